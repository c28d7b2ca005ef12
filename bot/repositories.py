"""Configured repositories: URL rules and verification against GitHub."""

from __future__ import annotations

import re

from bot.errors import GitError, GitHubError
from bot.github import GitHubPort
from bot.hosts import GITHUB_WEB, same_host
from bot.models import Repository, full_name_of, utcnow
from bot.remotes import RemotePolicy, strip_userinfo

SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def normalise_url(value: str, origin: str = GITHUB_WEB) -> str:
    """`owner/repo` → `<origin>/owner/repo` (the bot's GitHub: github.com or a GHES host),
    `https://host/owner/repo(.git)` → `https://host/owner/repo`; anything else is refused."""
    value = value.strip().rstrip("/").removesuffix(".git")
    if SLUG.match(value):
        return f"{origin.rstrip('/')}/{value}"
    match = re.match(r"^https?://[^/\s]+/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)$", value)
    if match is None:
        raise ValueError("repository_url must look like https://github.com/owner/repo or owner/repo")
    return value


async def verify_repository(repo: Repository, github: GitHubPort | None, policy: RemotePolicy,
                            origin: str = "") -> Repository:
    """Fill display name, owner, default branch and clone URL from GET /repos/{owner}/{repo}; given the
    bot's web origin, only for a repository on that host (else another host's `o/r` would be filled in)."""
    if github is None:
        raise GitHubError("cannot verify: no GitHub credentials configured (set GITHUB_TOKEN)", 503)
    if origin and not same_host(repo.repository_url, origin):
        raise GitHubError(f"{repo.repository_url} is not on this bot's GitHub ({origin}): "
                          "set GITHUB_API_URL (and AWO_GITHUB_WEB_URL) for its host", 404)
    info = await github.get_repository(full_name_of(repo.repository_url))
    return repo.model_copy(update={
        "display_name": info.full_name, "owner": info.owner, "default_branch": info.default_branch,
        "clone_url": checked_clone_url(info.clone_url, policy),
        "is_verified": True, "last_verified_at": utcnow(), "updated_at": utcnow(),
    })


def checked_clone_url(clone_url: str, policy: RemotePolicy) -> str:
    """GitHub's clone URL, if git may use it: an allowed protocol, on the GitHub host, no credentials."""
    try:
        return policy.check(strip_userinfo(clone_url))
    except GitError as exc:
        raise GitHubError(f"GitHub answered an unusable clone URL: {exc}", 502) from None
