"""GitHub App auth, the App half of the GitHub edge: a JWT → an installation token per repository.

One githubkit client serves every repository (bot/github.py); this module's `InstallationAuth` picks the token per
request from the request's path (`/repos/{owner}/{repo}/…`), so the port's calls keep their signatures and each
token can be narrowed to the one repository it acts on. Tokens are cached until shortly before they expire and
asked again once on a 401 (revoked, or expired early by a clock that drifted).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppAuthStrategy, GitHub, UnauthAuthStrategy
from githubkit.auth.base import BaseAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed

from bot.errors import GitHubError

log = logging.getLogger(__name__)

# What the bot does with a repository, and nothing more: push a branch, comment and react, open a pull request.
PERMISSIONS = {"contents": "write", "issues": "write", "pull_requests": "write", "metadata": "read"}
MAX_MARGIN = 300.0  # seconds before expiry a cached token is replaced
REPO_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)(?:/|$)")
# The repository of the last /repos/ call in this task: GraphQL's path names none, and a pull request's node ids
# are read right after its comments were listed, for the same repository.
_last_repo: contextvars.ContextVar[str | None] = contextvars.ContextVar("awo_last_repo", default=None)


def check_private_key(pem: str) -> None:
    """Raise ValueError in one line unless `pem` is an RSA private key in PEM (what GitHub hands out)."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a PEM RSA private key (as downloaded from the App's settings): {first}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key: GitHub Apps sign their JWTs with RS256")


def bot_login_of(slug: str) -> str:
    return f"{slug}[bot]"


def noreply_email(user_id: int, login: str) -> str:
    """The address GitHub links to the App's bot user, so its commits show the App's avatar."""
    return f"{user_id}+{login}@users.noreply.github.com"


@dataclass
class Token:
    value: str
    expires: float  # time.time()
    margin: float

    def fresh(self) -> bool:
        return time.time() < self.expires - self.margin


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class InstallationTokens:
    """Installation tokens by repository, from a JWT client; the bot's login and commit identity, asked once."""

    def __init__(self, app_id: str, private_key: str, base_url: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        # Its own JWT cache: githubkit's default one is per process and keyed by the App's id alone.
        self._app: GitHub[Any] = GitHub(AppAuthStrategy(app_id, private_key), base_url=base_url, timeout=30,
                                        user_agent="agent-work-orders", http_cache=False, async_transport=transport,
                                        cache_strategy=MemCacheStrategy())
        self._installations: dict[str, int] = {}
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._slug: str | None = None

    def know_installation(self, full_name: str, installation_id: int) -> None:
        """The payload's installation id: no look-up needed for this repository."""
        self._installations[full_name.lower()] = installation_id

    async def token(self, full_name: str) -> str:
        """A token for this one repository, from the cache while it is fresh."""
        key = full_name.lower()
        cached = self._tokens.get(key)
        if cached is not None and cached.fresh():
            return cached.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is None or not cached.fresh():
                cached = self._tokens[key] = await self._issue(full_name)
            return cached.value

    def forget(self, full_name: str, value: str) -> None:
        """A token GitHub refused (401): the next call asks for a new one."""
        cached = self._tokens.get(full_name.lower())
        if cached is not None and cached.value == value:
            del self._tokens[full_name.lower()]

    def any_token(self) -> str | None:
        """A fresh token of any repository, for a call that names none (looking up the bot's user)."""
        return next((t.value for t in self._tokens.values() if t.fresh()), None)

    async def _issue(self, full_name: str) -> Token:
        owner, _, name = full_name.partition("/")
        installation = await self._installation(owner, name)
        body: Any = {"repositories": [name], "permissions": PERMISSIONS}
        data = await self._ask(f"installation token for {full_name}", lambda: self._app.rest.apps.
                               async_create_installation_access_token(installation, data=body))
        expires = _epoch(str(data["expires_at"]))
        margin = min(MAX_MARGIN, max(0.0, expires - time.time()) / 5)
        log.info("installation token for %s (installation %s) until %s", full_name, installation, data["expires_at"])
        return Token(str(data["token"]), expires, margin)

    async def _installation(self, owner: str, name: str) -> int:
        key = f"{owner}/{name}".lower()
        if key not in self._installations:
            data = await self._ask(f"installation of {owner}/{name}",
                                   lambda: self._app.rest.apps.async_get_repo_installation(owner, name))
            self._installations[key] = int(data["id"])
        return self._installations[key]

    async def slug(self) -> str:
        """The App's slug (`GET /app`, asked once): its bot user is `<slug>[bot]`."""
        if self._slug is None:
            data = await self._ask("read the App", lambda: self._app.rest.apps.async_get_authenticated())
            self._slug = str(data["slug"])
        return self._slug

    async def _ask(self, what: str, request: Any) -> Any:
        try:
            response = await request()
        except RequestFailed as exc:
            raise GitHubError(f"{what}: GitHub answered {exc.response.status_code}", exc.response.status_code) from None
        except GitHubException as exc:
            raise GitHubError(f"{what}: {type(exc).__name__} {exc!r}") from None
        data = response.json()
        if not isinstance(data, dict):
            raise GitHubError(f"{what}: GitHub answered {type(data).__name__} where an object was expected")
        return data


class InstallationAuth(httpx.Auth):
    """Per request: the JWT for /app routes, else the installation token of the repository the path names."""

    requires_response_body = False

    def __init__(self, tokens: InstallationTokens, base_path: str) -> None:
        self.tokens = tokens
        self.base_path = base_path.rstrip("/")

    def _route(self, url: httpx.URL) -> str:
        path = url.path
        return path[len(self.base_path):] if self.base_path and path.startswith(self.base_path) else path

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        route = self._route(request.url)
        match = REPO_PATH.match(route)
        repo = f"{match[1]}/{match[2]}" if match else _last_repo.get()
        if match:
            _last_repo.set(repo)
        if repo is None:
            token = self.tokens.any_token()
            if token:
                request.headers["Authorization"] = f"token {token}"
            yield request
            return
        token = await self.tokens.token(repo)
        request.headers["Authorization"] = f"token {token}"
        response = yield request
        if response.status_code == 401:
            log.info("GitHub refused the installation token for %s: asking for a new one", repo)
            self.tokens.forget(repo, token)
            request.headers["Authorization"] = f"token {await self.tokens.token(repo)}"
            yield request


@dataclass
class InstallationAuthStrategy(BaseAuthStrategy):
    """githubkit's hook for InstallationAuth (its own AppInstallationAuthStrategy serves one installation only)."""

    tokens: InstallationTokens

    def get_auth_flow(self, github: Any) -> httpx.Auth:
        return InstallationAuth(self.tokens, github.config.base_url.path)


async def convert_manifest(base_url: str, code: str) -> dict[str, Any]:
    """The App GitHub created from a manifest: id, slug, private key (pem) and webhook secret, for the one-time
    code of its redirect (the call needs no credentials)."""
    github: GitHub[Any] = GitHub(UnauthAuthStrategy(), base_url=base_url, timeout=30, user_agent="agent-work-orders",
                                 http_cache=False)
    try:
        response = await github.rest.apps.async_create_from_manifest(code)
    except RequestFailed as exc:
        status = exc.response.status_code
        raise GitHubError(f"create the App from its manifest: GitHub answered {status}", status) from None
    except GitHubException as exc:
        raise GitHubError(f"create the App from its manifest: {type(exc).__name__} {exc!r}") from None
    data: Any = response.json()
    if not isinstance(data, dict) or not {"id", "slug", "pem"} <= set(data):
        raise GitHubError("create the App from its manifest: GitHub's answer has no id, slug and key")
    return data
