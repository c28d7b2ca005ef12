"""The only code that imports githubkit: the GitHubPort and its githubkit adapter."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import httpx
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, GraphQLFailed, RequestError, RequestFailed
from githubkit.webhooks import verify

from bot.errors import GitHubError
from bot.github_app import InstallationAuthStrategy, InstallationTokens, bot_login_of, noreply_email
from bot.github_data import (
    ChangedFile,
    IssueInfo,
    NodeState,
    PullRequest,
    Remark,
    RepoFile,
    RepoInfo,
    changed_file_of,
    issue_of,
    node_state_of,
    pull_of,
    remark_of,
    repo_file_of,
)
from bot.metrics import Metrics

__all__ = ["ChangedFile", "GitHubClient", "GitHubPort", "IssueInfo", "NodeState", "PullRequest", "Remark", "RepoFile",
           "RepoInfo"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class GitHubPort(Protocol):
    """The few GitHub calls the bot makes; every one is made after the webhook was answered."""

    async def git_token(self, full_name: str) -> str | None:
        """The token git may use for this repository's remote (never written to disk); with App auth, the
        repository's own installation token."""
        ...

    async def get_repository(self, full_name: str) -> RepoInfo: ...
    async def permission(self, full_name: str, login: str) -> str:
        """The actor's role on the repository; "none" for a 404 or any answer that names no role."""
        ...

    async def viewer_login(self) -> str | None:
        """The login the bot acts as (`GET /user`, asked once); None where the token cannot say (an App)."""
        ...

    async def add_reaction(
        self, full_name: str, issue_number: int, comment_id: int | None, content: str, *, kind: str = "issue"
    ) -> None:
        """`kind` "review_comment" reacts to a comment on a diff line; "review" does nothing (no reactions)."""
        ...

    async def create_comment(self, full_name: str, issue_number: int, body: str) -> int: ...
    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None: ...
    async def find_comment(self, full_name: str, issue_number: int, marker: str) -> int | None: ...
    async def find_pull_request(self, full_name: str, branch: str) -> PullRequest | None: ...
    async def get_pull_request(self, full_name: str, number: int) -> PullRequest: ...
    async def create_pull_request(
        self, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest: ...
    async def get_issue(self, full_name: str, number: int) -> IssueInfo: ...
    async def list_pull_files(self, full_name: str, number: int) -> list[ChangedFile]: ...
    async def list_issue_comments(self, full_name: str, number: int) -> list[Remark]:
        """Every page: a 250-comment thread arrives whole (bounded at MAX_PAGES pages of 100)."""
        ...

    async def list_reviews(self, full_name: str, number: int) -> list[Remark]: ...
    async def list_review_comments(self, full_name: str, pr_number: int) -> list[Remark]: ...
    async def node_states(self, node_ids: list[str]) -> dict[str, NodeState]:
        """Hidden or not, and the earlier revisions, by node id (GraphQL, 100 ids a query); unknown ids absent."""
        ...

    async def reply_to_review_comment(self, full_name: str, pr_number: int, comment_id: int, body: str) -> int: ...
    async def update_review_comment(self, full_name: str, comment_id: int, body: str) -> None: ...
    async def find_review_comment(self, full_name: str, pr_number: int, marker: str) -> int | None: ...
    async def get_file(self, full_name: str, path: str, *, etag: str | None = None) -> RepoFile | None:
        """A file on the default branch (Contents API); None if there is none (404, or not a regular file). With
        `etag`: a RepoFile with not_modified=True if it is unchanged since that answer."""
        ...


MAX_PAGES = 30
NODES_QUERY = (
    "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Minimizable { isMinimized minimizedReason }\n"
    "      ... on Comment { createdAt lastEditedAt userContentEdits(first: 100) { nodes { editedAt diff } } } } }"
)


def signature_valid(secrets: tuple[str, ...], body: bytes, signature: str | None) -> bool:
    """True if `X-Hub-Signature-256` matches one of the secrets; sha1 signatures are never enough."""
    if not signature or not signature.startswith("sha256="):
        return False
    return any(verify(secret, body, signature) for secret in secrets)


def _split(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    return owner, name


@asynccontextmanager
async def _translated(what: str) -> AsyncIterator[None]:
    """Turn githubkit's errors into GitHubError once, here at the edge."""
    try:
        yield
    except RequestFailed as exc:
        status = exc.response.status_code
        message = _message_of(exc)
        raise GitHubError(f"{what}: GitHub answered {status}{': ' + message if message else ''}", status) from None
    except RequestError as exc:
        if isinstance(exc.exc, GitHubError):  # raised by the App's auth hook, asking for an installation token
            raise GitHubError(f"{what}: {exc.exc}", exc.exc.status) from None
        raise GitHubError(f"{what}: {type(exc).__name__} {exc!r}") from None
    except GitHubException as exc:
        raise GitHubError(f"{what}: {type(exc).__name__} {exc!r}") from None


def _json_of(what: str, response: Any) -> Any:
    """The answer's JSON; a proxy's HTML page or a truncated body is a GitHubError (no status: worth a retry)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise GitHubError(f"{what}: GitHub answered {response.status_code} with a body that is not JSON") from None


def _object(what: str, data: Any) -> dict[str, Any]:
    """An answer that must be a JSON object (an empty 200 or a list from a proxy is not)."""
    if not isinstance(data, dict):
        raise GitHubError(f"{what}: GitHub answered {type(data).__name__} where an object was expected")
    return data


def _message_of(exc: RequestFailed) -> str:
    try:
        body = exc.response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


class KeptConnections(httpx.AsyncBaseTransport):
    """One connection pool per event loop, kept across calls.

    githubkit, used outside `async with`, builds an httpx client for every call and closes it after: a new
    SSL context (~25 ms of CPU) and a new connection (a TCP and TLS handshake with GitHub) each time. Given
    this transport, its per-call client costs nothing and every call reuses the loop's open connections.
    """

    def __init__(self) -> None:
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport] = (
            weakref.WeakKeyDictionary())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = httpx.AsyncHTTPTransport()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        """githubkit closes its per-call client after each call: the connections stay open for the next."""

    async def close_pool(self) -> None:
        """The running loop's connections, closed (on shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()


class GitHubClient:
    """GitHubPort over githubkit with token auth (PAT or the Actions token), or as a GitHub App: one client for
    every installation, whose auth hook picks each request's token by the repository it names (bot/github_app.py)."""

    def __init__(self, token: str, base_url: str = "https://api.github.com", keep_connections: bool = False,
                 *, app: tuple[str, str] | None = None, metrics: Metrics | None = None) -> None:
        """`keep_connections` for a long-lived process, which then calls close(); a one-off command need not.
        `app` (id, private key PEM) authenticates as that GitHub App instead of with `token`; `metrics` counts
        every answer (by route template) and keeps the rate limit GitHub reports."""
        self._token = token
        self._viewer: tuple[str | None] | None = None  # asked once: (login,) or (None,)
        self._connections = KeptConnections() if keep_connections else None
        self.app = InstallationTokens(app[0], app[1], base_url, self._connections) if app else None
        self._identity: tuple[str, str] | None = None
        self._gh: GitHub[Any] = GitHub(
            InstallationAuthStrategy(self.app) if self.app else TokenAuthStrategy(token),
            base_url=base_url, timeout=30, user_agent="agent-work-orders",
            http_cache=False,  # a cached GET could hide a PR or comment we just made
            async_transport=self._connections,
            async_event_hooks=metrics.github_hooks(base_url) if metrics else None,  # type: ignore[arg-type]
        )

    async def git_token(self, full_name: str) -> str | None:
        return await self.app.token(full_name) if self.app else self._token

    async def app_identity(self) -> tuple[str, str] | None:
        """The App's bot user as a commit author (name, noreply email), asked once; None with token auth."""
        if self.app is None:
            return None
        if self._identity is None:
            login = bot_login_of(await self.app.slug())
            data = await self._call("read the bot user", lambda: self._gh.rest.users.async_get_by_username(login))
            self._identity = (login, noreply_email(int(_object("read the bot user", data)["id"]), login))
        return self._identity

    async def close(self) -> None:
        if self._connections is not None:
            await self._connections.close_pool()

    async def _call(self, what: str, request: Callable[[], Awaitable[Any]]) -> Any:
        async with _translated(what):
            response = await request()
        return _json_of(what, response)

    async def get_repository(self, full_name: str) -> RepoInfo:
        owner, name = _split(full_name)
        data = await self._call(f"get {full_name}", lambda: self._gh.rest.repos.async_get(owner, name))
        return RepoInfo(
            full_name=data["full_name"], owner=data["owner"]["login"], name=data["name"],
            default_branch=data["default_branch"], clone_url=data["clone_url"], html_url=data["html_url"],
        )

    async def permission(self, full_name: str, login: str) -> str:
        owner, name = _split(full_name)
        rest = self._gh.rest.repos
        try:
            data = await self._call(
                f"permission of {login}", lambda: rest.async_get_collaborator_permission_level(owner, name, login)
            )
        except GitHubError as exc:
            if exc.status == 404:
                return "none"
            raise
        return role_of(_object(f"permission of {login}", data))

    async def viewer_login(self) -> str | None:
        if self._viewer is None:
            self._viewer = (await self._ask_viewer(),)
        return self._viewer[0]

    async def _ask_viewer(self) -> str | None:
        if self.app is not None:
            return bot_login_of(await self.app.slug())
        try:
            data = await self._call("who am I", lambda: self._gh.rest.users.async_get_authenticated())
        except GitHubError as exc:
            if exc.status in (401, 403, 404):  # an App or Actions token has no user; its login ends in [bot]
                log.info("GET /user answered %s: the bot's own login is unknown", exc.status)
                return None
            raise
        login = data.get("login") if isinstance(data, dict) else None
        return str(login) if login else None

    async def add_reaction(
        self, full_name: str, issue_number: int, comment_id: int | None, content: str, *, kind: str = "issue"
    ) -> None:
        owner, name = _split(full_name)
        reactions = self._gh.rest.reactions
        body: Any = {"content": content}
        if kind == "review":
            return
        if comment_id is None:
            await self._call("reaction", lambda: reactions.async_create_for_issue(owner, name, issue_number, data=body))
        elif kind == "review_comment":
            await self._call("reaction", lambda: reactions.async_create_for_pull_request_review_comment(
                owner, name, comment_id, data=body))
        else:
            await self._call("reaction", lambda: reactions.async_create_for_issue_comment(
                owner, name, comment_id, data=body))

    async def create_comment(self, full_name: str, issue_number: int, body: str) -> int:
        owner, name = _split(full_name)
        issues = self._gh.rest.issues
        data = await self._call("comment", lambda: issues.async_create_comment(owner, name, issue_number, body=body))
        return int(data["id"])

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        owner, name = _split(full_name)
        issues = self._gh.rest.issues
        await self._call("edit comment", lambda: issues.async_update_comment(owner, name, comment_id, body=body))

    async def find_comment(self, full_name: str, issue_number: int, marker: str) -> int | None:
        owner, name = _split(full_name)
        issues = self._gh.rest.issues
        data = await self._pages("list comments", lambda p: issues.async_list_comments(
            owner, name, issue_number, per_page=100, page=p), pages=10, until=lambda c: marker in str(c.get("body")))
        return next((int(c["id"]) for c in data if marker in str(c.get("body"))), None)

    async def find_pull_request(self, full_name: str, branch: str) -> PullRequest | None:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._call("list pull requests", lambda: pulls.async_list(
            owner, name, head=f"{owner}:{branch}", state="open"))
        return pull_of(data[0]) if data else None

    async def get_pull_request(self, full_name: str, number: int) -> PullRequest:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._call("read pull request", lambda: pulls.async_get(owner, name, number))
        return pull_of(_object("read pull request", data))

    async def create_pull_request(
        self, full_name: str, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._call("open pull request", lambda: pulls.async_create(
            owner, name, title=title, head=head, base=base, body=body, draft=draft))
        return pull_of(data)

    async def get_issue(self, full_name: str, number: int) -> IssueInfo:
        owner, name = _split(full_name)
        data = await self._call("read issue", lambda: self._gh.rest.issues.async_get(owner, name, number))
        return issue_of(_object("read issue", data))

    async def _pages(
        self, what: str, request: Callable[[int], Awaitable[Any]], pages: int = MAX_PAGES,
        until: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Every page of a list, 100 a page, until a short page (at most `pages`), or until a page holds an item
        `until` looks for."""
        found: list[dict[str, Any]] = []
        for page in range(1, pages + 1):
            data = await self._call(what, lambda p=page: request(p))  # type: ignore[misc]
            if not isinstance(data, list):
                raise GitHubError(f"{what}: GitHub answered {type(data).__name__} where a list was expected")
            items = [item for item in data if isinstance(item, dict)]
            found.extend(items)
            if len(data) < 100 or (until is not None and any(until(item) for item in items)):
                break
        return found

    async def list_pull_files(self, full_name: str, number: int) -> list[ChangedFile]:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._pages("list changed files", lambda p: pulls.async_list_files(
            owner, name, number, per_page=100, page=p))
        return [changed_file_of(item) for item in data]

    async def list_issue_comments(self, full_name: str, number: int) -> list[Remark]:
        owner, name = _split(full_name)
        issues = self._gh.rest.issues
        data = await self._pages("list comments", lambda p: issues.async_list_comments(
            owner, name, number, per_page=100, page=p))
        return [remark_of("comment", item) for item in data]

    async def list_reviews(self, full_name: str, number: int) -> list[Remark]:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._pages("list reviews", lambda p: pulls.async_list_reviews(
            owner, name, number, per_page=100, page=p))
        return [remark_of("review", item) for item in data]

    async def list_review_comments(self, full_name: str, pr_number: int) -> list[Remark]:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._pages("list review comments", lambda p: pulls.async_list_review_comments(
            owner, name, pr_number, per_page=100, page=p))
        return [remark_of("review_comment", item) for item in data]

    async def node_states(self, node_ids: list[str]) -> dict[str, NodeState]:
        states: dict[str, NodeState] = {}
        for start in range(0, len(node_ids), 100):
            nodes = await self._nodes(node_ids[start:start + 100])
            states.update((str(n["id"]), node_state_of(n)) for n in nodes if isinstance(n, dict) and n.get("id"))
        return states

    async def _nodes(self, ids: list[str]) -> list[Any]:
        """One query's nodes; an id GitHub cannot resolve (deleted since it was listed) is a null, not a failure."""
        async with _translated("read comment states"):
            try:
                data: Any = await self._gh.async_graphql(NODES_QUERY, {"ids": ids})
            except GraphQLFailed as exc:
                if exc.response.data is None or any(e.type != "NOT_FOUND" for e in exc.response.errors or ()):
                    raise
                data = exc.response.data
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, list):
            raise GitHubError("read comment states: GitHub answered without a list of nodes")
        return nodes

    async def reply_to_review_comment(self, full_name: str, pr_number: int, comment_id: int, body: str) -> int:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        data = await self._call("reply", lambda: pulls.async_create_reply_for_review_comment(
            owner, name, pr_number, comment_id, body=body))
        return int(_object("reply", data)["id"])

    async def update_review_comment(self, full_name: str, comment_id: int, body: str) -> None:
        owner, name = _split(full_name)
        pulls = self._gh.rest.pulls
        await self._call("edit review comment", lambda: pulls.async_update_review_comment(
            owner, name, comment_id, body=body))

    async def find_review_comment(self, full_name: str, pr_number: int, marker: str) -> int | None:
        found = await self.list_review_comments(full_name, pr_number)
        return next((c.id for c in found if marker in c.body), None)

    async def get_file(self, full_name: str, path: str, *, etag: str | None = None) -> RepoFile | None:
        owner, name = _split(full_name)
        headers = {"If-None-Match": etag} if etag else None
        try:
            async with _translated(f"read {path}"):
                response = await self._gh.rest.repos.async_get_content(owner, name, path, headers=headers)
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if response.status_code == 304:
            return RepoFile("", None, etag, not_modified=True)
        return repo_file_of(_json_of(f"read {path}", response), response.headers.get("etag"))


def note_installation(github: GitHubPort | None, full_name: str, installation_id: object) -> None:
    """A payload's installation id, known to an App client: its repository's token needs no look-up."""
    if isinstance(github, GitHubClient) and github.app is not None and isinstance(installation_id, int):
        github.app.know_installation(full_name, installation_id)


def role_of(data: object) -> str:
    """The role a permission answer names; anything unexpected is "none", never write."""
    if not isinstance(data, dict):
        return "none"
    role = data.get("role_name") or data.get("permission")
    return role if isinstance(role, str) and role else "none"
