"""Configured repositories: URL rules and verification against GitHub."""

from __future__ import annotations

import re

from bot.errors import GitHubError
from bot.github import GitHubPort
from bot.models import Repository, full_name_of, utcnow

SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def normalise_url(value: str) -> str:
    """`owner/repo`, `https://host/owner/repo(.git)` → `https://host/owner/repo`; anything else is refused."""
    value = value.strip().rstrip("/").removesuffix(".git")
    if SLUG.match(value):
        return f"https://github.com/{value}"
    match = re.match(r"^https?://[^/\s]+/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)$", value)
    if match is None:
        raise ValueError("repository_url must look like https://github.com/owner/repo or owner/repo")
    return value


async def verify_repository(repo: Repository, github: GitHubPort | None) -> Repository:
    """Fill display name, owner and default branch from GET /repos/{owner}/{repo}."""
    if github is None:
        raise GitHubError("cannot verify: no GitHub credentials configured (set GITHUB_TOKEN)", 503)
    info = await github.get_repository(full_name_of(repo.repository_url))
    return repo.model_copy(update={
        "display_name": info.full_name, "owner": info.owner, "default_branch": info.default_branch,
        "is_verified": True, "last_verified_at": utcnow(), "updated_at": utcnow(),
    })
