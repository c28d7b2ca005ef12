"""Archon's routes, in Archon's shapes: GET /{id}/git-progress and POST /github/verify-repository.

verify-repository asks GitHub about a repository the caller names, so it is kept from being an SSRF or a probe:
only `owner/name` (strict GitHub shapes) or a URL on the bot's own GitHub host is accepted, GitHub is reached only
through the configured API (never a host from the request), and an answer never carries a token.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.archon import git_progress
from bot.errors import GitHubError
from bot.hosts import host_of
from bot.report import redact
from bot.web.api import PREFIX, Refused, guarded, parse, path_id
from bot.web.context import runtime_of

# GitHub's own rules: an owner is 1-39 letters, digits or inner single hyphens; a name 1-100 of [A-Za-z0-9._-].
OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$")
NOT_ACCESSIBLE = "Repository not accessible or not found"  # Archon's words; 403 and 404 look the same on purpose


class VerifyRepository(BaseModel):
    """Archon's GitHubRepositoryVerificationRequest."""

    model_config = ConfigDict(extra="ignore")

    repository_url: str = Field(min_length=3, max_length=300)

    @field_validator("repository_url")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()


def full_name_in(value: str, web_origin: str) -> str:
    """`owner/name`, from a slug or from `https://<the bot's GitHub host>/owner/name(.git)`; else Refused 422."""
    path = value.rstrip("/").removesuffix(".git")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
            raise Refused(422, "repository_url: an https URL without credentials, or owner/name")
        if host_of(value) != host_of(web_origin) or parts.query or parts.fragment:
            raise Refused(422, f"repository_url: only repositories on {web_origin} (this bot's GitHub)")
        path = parts.path.strip("/").removesuffix(".git")
    owner, slash, name = path.partition("/")
    if not slash or not OWNER.match(owner) or not NAME.match(name):
        raise Refused(422, "repository_url: owner/name as GitHub allows them (e.g. octo-org/hello-world)")
    return f"{owner}/{name}"


async def verify_github_repository(request: Request) -> Response:
    """Archon's GitHubRepositoryVerificationResponse for `owner/name` on the bot's GitHub; 422 for anything else."""
    body = await parse(request, VerifyRepository)
    runtime = runtime_of(request)
    full_name = full_name_in(body.repository_url, runtime.settings.github_web_origin)
    if runtime.github is None:
        raise GitHubError("cannot verify: no GitHub credentials configured (set GITHUB_TOKEN)", 503)
    try:
        info = await runtime.github.get_repository(full_name)
    except GitHubError as exc:
        return JSONResponse(_inaccessible(exc, runtime.services.secrets))
    return JSONResponse({"is_accessible": True, "repository_name": info.name, "repository_owner": info.owner,
                         "default_branch": info.default_branch, "error_message": None})


def _inaccessible(exc: GitHubError, secrets: tuple[str, ...]) -> dict[str, object]:
    """Archon's answer for a repository the bot cannot see; other failures say GitHub's status, redacted."""
    message = NOT_ACCESSIBLE if exc.status in (403, 404) else redact(str(exc), secrets)[:300]
    return {"is_accessible": False, "repository_name": None, "repository_owner": None, "default_branch": None,
            "error_message": message}


async def get_git_progress(request: Request) -> Response:
    """Archon's GitProgressSnapshot of one work order; 404 for an unknown id."""
    order = await runtime_of(request).store.get_work_order(path_id(request))
    return JSONResponse(git_progress(order))


# Before api.routes: its `/{id}` routes would otherwise meet `github` as an id.
routes = [
    Route(f"{PREFIX}/github/verify-repository", guarded(verify_github_repository), methods=["POST"]),
    Route(f"{PREFIX}/{{id}}/git-progress", guarded(get_git_progress), methods=["GET"]),
]
