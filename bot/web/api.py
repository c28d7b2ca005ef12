"""The seed's REST API under /api/agent-work-orders: work orders, their steps, configured repositories."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.archon import archon_fields
from bot.errors import BotError, Conflict, GitHubError, NotFound
from bot.models import Repository, Status, WorkOrder, full_name_of
from bot.repositories import SLUG, normalise_url, verify_repository
from bot.steps import agent_steps
from bot.store import ID_SHAPE, Cursor, ListFilter, repository_for
from bot.web.body import CLOSE, BodyRefused, has_nul, read_bounded
from bot.web.context import runtime_of
from bot.worklog import progress

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
MAX_BODY = 64 * 1024
# The seed's CHECK constraint on default_sandbox_type: anything else would be a 500 from the database.
SandboxType = Literal["git_branch", "git_worktree", "e2b", "dagger"]
ISSUE_NUMBER_MAX = 2**31 - 1  # the column is an integer on Postgres
LIST_LIMIT_MAX = 500  # rows in one page of the list
LIST_OFFSET_MAX = 1_000_000  # deeper pages: follow the cursor, whose cost does not grow with depth
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,255}$")


class CreateWorkOrder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repository_url: str = Field(min_length=1, max_length=500)
    sandbox_type: SandboxType = "git_worktree"
    user_request: str = Field(min_length=1, max_length=65536)
    selected_commands: list[str] | None = None
    github_issue_number: int | None = None

    @field_validator("github_issue_number", mode="before")
    @classmethod
    def _issue_number(cls, value: object) -> int | None:
        """The seed sends it as a string or a number; either way it must fit the column."""
        text = str(value if value is not None else "").strip()
        if not text:
            return None
        if not text.isdecimal() or not 0 < int(text) <= ISSUE_NUMBER_MAX:
            raise ValueError(f"an issue number between 1 and {ISSUE_NUMBER_MAX}")
        return int(text)

    @field_validator("selected_commands")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        try:
            agent_steps(value)
        except BotError as exc:
            raise ValueError(str(exc)) from None
        return value


class CreateRepository(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository_url: str
    verify: bool = True

    @field_validator("repository_url")
    @classmethod
    def _github_url(cls, value: str) -> str:
        if "@" in urlparse(value.strip()).netloc:
            raise ValueError("credentials in the URL are not accepted: the bot uses its own token")
        normalise_url(value)  # refuses what is neither a slug nor a repository URL; the host comes later
        return value.strip()


class UpdateRepository(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_sandbox_type: SandboxType | None = None
    default_commands: list[str] | None = None
    default_branch: str | None = None

    @field_validator("default_commands")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return CreateWorkOrder._known(value)  # type: ignore[operator]

    @field_validator("default_branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        if value is not None and not BRANCH.match(value):
            raise ValueError("a git branch name (letters, digits, . _ / -)")
        return value


class PageQuery(BaseModel):
    """`limit` and `offset` of a list that is not the work orders' (repositories, steps, deliveries): a bad value is
    a 422 that says which. The default shows a whole page; a full page links the next by offset."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(LIST_LIMIT_MAX, ge=1, le=LIST_LIMIT_MAX)
    offset: int = Field(0, ge=0, le=LIST_OFFSET_MAX)

    def window(self, rows: list[T]) -> list[T]:
        """This page of a list read whole (repositories and a work order's steps are a few rows)."""
        return rows[self.offset:self.offset + self.limit]

    def next_link(self, request: Request, shown: int) -> dict[str, str]:
        """`Link: <...>; rel="next"` after a full page, relative like the work orders' (right behind a proxy)."""
        if shown < self.limit:
            return {}
        following = request.url.include_query_params(offset=self.offset + self.limit)
        return {"Link": f'<{following.path}?{following.query}>; rel="next"'}


class ListQuery(BaseModel):
    """The list's query string; anything it does not name is ignored, a bad value is a 422 that says which."""

    model_config = ConfigDict(extra="ignore")

    status: Status | None = None
    repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # owner/name
    issue: int | None = Field(None, gt=0, le=ISSUE_NUMBER_MAX)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(100, ge=1, le=LIST_LIMIT_MAX)
    offset: int = Field(0, ge=0, le=LIST_OFFSET_MAX)
    cursor: Cursor | None = None

    @field_validator("cursor", mode="before")
    @classmethod
    def _cursor(cls, value: object) -> Cursor | None:
        return Cursor.decode(str(value)) if value else None

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is UTC, like every time the API shows."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _issue_in_a_repository(self) -> ListQuery:
        if self.issue is not None and self.repository is None:
            raise ValueError("issue needs repository: issue numbers are per repository")
        return self

    def filter(self) -> ListFilter:
        return ListFilter(self.repository, self.issue, self.since, self.until)


def problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class InvalidBody(Exception):
    """The request body (or query string) does not fit its model; answered 422 with the model's complaints."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("invalid body")
        self.detail = detail


class Refused(Exception):
    """A request refused with a status and a message before any work was done."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def is_json(request: Request) -> bool:
    """Only JSON bodies: a browser cannot send this cross-site without a CORS preflight, which we never allow."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json"


async def parse(request: Request, model: type[M]) -> M:
    if not is_json(request):
        raise Refused(415, "the body must be JSON: send Content-Type: application/json")
    try:
        body = await read_bounded(request, MAX_BODY, runtime_of(request).settings.http_timeout_seconds)
    except BodyRefused as exc:
        raise Refused(exc.status, exc.detail) from None
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidBody(errors_of(exc)) from None
    if has_nul(body, parsed.model_dump()):
        raise Refused(422, "NUL characters (\\u0000) are not accepted")
    return parsed


def query_of(request: Request, model: type[M]) -> M:
    """The query string as a model (a repeated name counts once: its last value)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise InvalidBody(errors_of(exc)) from None


def errors_of(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def path_id(request: Request) -> str:
    """The `{id}` in the path; one no store could hold is simply not found."""
    value = str(request.path_params["id"])
    if not ID_SHAPE.match(value):
        raise NotFound(f"{value[:40]!r} not found")
    return value


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def work_order_json(work_order: WorkOrder) -> dict[str, Any]:
    """A work order as every response shows it: our fields, and Archon's names beside them (bot/archon.py)."""
    return {**dump(work_order), **archon_fields(work_order)}


def guarded(handler: Any) -> Any:
    """Map the bot's errors to their HTTP status; anything else is a 500 without internals."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except Refused as exc:
            return problem(exc.status, exc.detail, CLOSE if exc.status in (408, 413, 415) else None)
        except InvalidBody as exc:
            return problem(422, exc.detail)
        except NotFound as exc:
            return problem(404, str(exc))
        except Conflict as exc:
            return problem(409, str(exc))
        except GitHubError as exc:
            return problem(exc.status if exc.status in (404, 503) else 502, str(exc))
    endpoint.__name__ = handler.__name__
    return endpoint


async def configured_repository(request: Request, requested: str) -> Repository:
    """The configured repository the request names; its URL, never the request's text, is what gets cloned."""
    try:
        url = normalise_url(requested, runtime_of(request).settings.github_web_origin)
    except ValueError as exc:
        raise Refused(422, str(exc)) from None
    repo = await repository_for(runtime_of(request).store, full_name_of(url), url)
    if repo is None:
        raise Refused(422, f"{full_name_of(url)} is not a configured repository: add it under /repositories first")
    if not SLUG.match(requested.strip()) and _host(url) != _host(repo.repository_url):
        raise Refused(422, f"{repo.full_name} is configured on {_host(repo.repository_url)}, not {_host(url)}")
    return repo


def _host(url: str) -> str:
    """The host (and port) of a URL, never its userinfo: this text is compared and shown in errors."""
    return urlparse(url).netloc.rpartition("@")[2].lower()


async def create_work_order(request: Request) -> Response:
    body = await parse(request, CreateWorkOrder)
    runtime = runtime_of(request)
    repo = await configured_repository(request, body.repository_url)
    work_order = WorkOrder(
        repository_url=repo.repository_url, user_request=body.user_request,
        issue_number=body.github_issue_number,
        repo_full_name=repo.full_name, max_attempts=runtime.settings.max_attempts,
        metadata={"commands": body.selected_commands, "sandbox_type": body.sandbox_type, "source": "api",
                  "default_branch": repo.default_branch},
    )
    await runtime.store.create_work_order(work_order)
    if runtime.worker is not None:
        runtime.worker.notify()
    return JSONResponse({**work_order_json(work_order), "message": "work order created and queued"}, status_code=201)


async def list_work_orders(request: Request) -> Response:
    """A page, newest first; a full page links the next one by a cursor (`Link: <...>; rel="next"`), so the body
    stays the seed's JSON array and a client paging while work orders arrive sees each once."""
    page = query_of(request, ListQuery)
    orders = await runtime_of(request).store.list_work_orders(
        page.status, page.limit, where=page.filter(), cursor=page.cursor, offset=page.offset)
    headers = {}
    if len(orders) == page.limit:
        following = request.url.remove_query_params(["cursor", "offset"]).include_query_params(
            cursor=Cursor.after(orders[-1]).encode())
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'  # relative: right behind a proxy too
    return JSONResponse([work_order_json(o) for o in orders], headers=headers)


async def get_work_order(request: Request) -> Response:
    store = runtime_of(request).store
    order = await store.get_work_order(path_id(request))
    return JSONResponse({**work_order_json(order), **await progress(store, order)})


async def get_steps(request: Request) -> Response:
    work_order_id = path_id(request)
    store = runtime_of(request).store
    page = query_of(request, PageQuery)
    await store.get_work_order(work_order_id)
    steps = page.window(await store.list_steps(work_order_id))
    return JSONResponse({"agent_work_order_id": work_order_id, "steps": [dump(s) for s in steps]},
                        headers=page.next_link(request, len(steps)))


async def list_repositories(request: Request) -> Response:
    page = query_of(request, PageQuery)
    repos = page.window(await runtime_of(request).store.list_repositories())
    return JSONResponse([dump(r) for r in repos], headers=page.next_link(request, len(repos)))


async def configure_repository(request: Request, body: CreateRepository) -> Repository:
    """Add the repository a request names (verified on GitHub first unless it says not to)."""
    runtime = runtime_of(request)
    url = normalise_url(body.repository_url, runtime.settings.github_web_origin)
    repo = Repository(repository_url=url, owner=full_name_of(url).split("/")[0])
    if body.verify:
        repo = await verify_repository(repo, runtime.github, runtime.settings.remote_policy,
                                       runtime.settings.github_web_origin)
    return await runtime.store.add_repository(repo)


async def create_repository(request: Request) -> Response:
    body = await parse(request, CreateRepository)
    return JSONResponse(dump(await configure_repository(request, body)), status_code=201)


async def update_repository(request: Request) -> Response:
    body = await parse(request, UpdateRepository)
    changes = body.model_dump(exclude_none=True)
    updated = await runtime_of(request).store.update_repository(path_id(request), changes)
    return JSONResponse(dump(updated))


async def delete_repository(request: Request) -> Response:
    await runtime_of(request).store.delete_repository(path_id(request))
    return Response(status_code=204)


async def verify_again(request: Request) -> Repository:
    """The configured repository named in the path, checked on GitHub again and stored with what GitHub said."""
    runtime = runtime_of(request)
    repo = await runtime.store.get_repository(path_id(request))
    checked = await verify_repository(repo, runtime.github, runtime.settings.remote_policy,
                                      runtime.settings.github_web_origin)
    fields = ("display_name", "owner", "default_branch", "clone_url", "is_verified", "last_verified_at")
    return await runtime.store.update_repository(repo.id, {f: getattr(checked, f) for f in fields})


async def verify_repository_endpoint(request: Request) -> Response:
    return JSONResponse(dump(await verify_again(request)))


PREFIX = "/api/agent-work-orders"
routes = [
    Route(f"{PREFIX}/repositories", guarded(list_repositories), methods=["GET"]),
    Route(f"{PREFIX}/repositories", guarded(create_repository), methods=["POST"]),
    Route(f"{PREFIX}/repositories/{{id}}", guarded(update_repository), methods=["PATCH"]),
    Route(f"{PREFIX}/repositories/{{id}}", guarded(delete_repository), methods=["DELETE"]),
    Route(f"{PREFIX}/repositories/{{id}}/verify", guarded(verify_repository_endpoint), methods=["POST"]),
    Route(f"{PREFIX}/", guarded(create_work_order), methods=["POST"]),
    Route(f"{PREFIX}/", guarded(list_work_orders), methods=["GET"]),
    Route(f"{PREFIX}/{{id}}", guarded(get_work_order), methods=["GET"]),
    Route(f"{PREFIX}/{{id}}/steps", guarded(get_steps), methods=["GET"]),
]

