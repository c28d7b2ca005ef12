"""The seed's REST API under /api/agent-work-orders: work orders, their steps, configured repositories."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.errors import BotError, Conflict, GitHubError, NotFound
from bot.models import Repository, Status, WorkOrder, full_name_of
from bot.repositories import normalise_url, verify_repository
from bot.steps import agent_steps
from bot.web.context import runtime_of

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class CreateWorkOrder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repository_url: str = Field(min_length=1)
    sandbox_type: str = "git_worktree"
    user_request: str = Field(min_length=1, max_length=65536)
    selected_commands: list[str] | None = None
    github_issue_number: int | str | None = None

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
        return normalise_url(value)


class UpdateRepository(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_sandbox_type: str | None = None
    default_commands: list[str] | None = None
    default_branch: str | None = None

    @field_validator("default_commands")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return CreateWorkOrder._known(value)  # type: ignore[operator]


def problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


class InvalidBody(Exception):
    """The request body does not fit its model; answered 422 with the model's complaints."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("invalid body")
        self.detail = detail


async def parse(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InvalidBody([{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]) from None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def guarded(handler: Any) -> Any:
    """Map the bot's errors to their HTTP status; anything else is a 500 without internals."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
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


async def create_work_order(request: Request) -> Response:
    body = await parse(request, CreateWorkOrder)
    runtime = runtime_of(request)
    issue_text = str(body.github_issue_number or "")
    issue = int(issue_text) if issue_text.isdigit() else None
    work_order = WorkOrder(
        repository_url=body.repository_url, user_request=body.user_request, issue_number=issue,
        repo_full_name=full_name_of(body.repository_url), max_attempts=runtime.settings.max_attempts,
        metadata={"commands": body.selected_commands, "sandbox_type": body.sandbox_type, "source": "api"},
    )
    await runtime.store.create_work_order(work_order)
    if runtime.worker is not None:
        runtime.worker.notify()
    return JSONResponse({**dump(work_order), "message": "work order created and queued"}, status_code=201)


async def list_work_orders(request: Request) -> Response:
    status_text = request.query_params.get("status")
    try:
        status = Status(status_text) if status_text else None
    except ValueError:
        return problem(422, f"unknown status {status_text!r}; one of {[s.value for s in Status]}")
    orders = await runtime_of(request).store.list_work_orders(status)
    return JSONResponse([dump(o) for o in orders])


async def get_work_order(request: Request) -> Response:
    order = await runtime_of(request).store.get_work_order(request.path_params["id"])
    return JSONResponse(dump(order))


async def get_steps(request: Request) -> Response:
    work_order_id = request.path_params["id"]
    store = runtime_of(request).store
    await store.get_work_order(work_order_id)
    steps = await store.list_steps(work_order_id)
    return JSONResponse({"agent_work_order_id": work_order_id, "steps": [dump(s) for s in steps]})


async def list_repositories(request: Request) -> Response:
    return JSONResponse([dump(r) for r in await runtime_of(request).store.list_repositories()])


async def create_repository(request: Request) -> Response:
    body = await parse(request, CreateRepository)
    runtime = runtime_of(request)
    repo = Repository(repository_url=body.repository_url, owner=full_name_of(body.repository_url).split("/")[0])
    if body.verify:
        repo = await verify_repository(repo, runtime.github, runtime.settings.remote_policy)
    return JSONResponse(dump(await runtime.store.add_repository(repo)), status_code=201)


async def update_repository(request: Request) -> Response:
    body = await parse(request, UpdateRepository)
    changes = body.model_dump(exclude_none=True)
    updated = await runtime_of(request).store.update_repository(request.path_params["id"], changes)
    return JSONResponse(dump(updated))


async def delete_repository(request: Request) -> Response:
    await runtime_of(request).store.delete_repository(request.path_params["id"])
    return Response(status_code=204)


async def verify_repository_endpoint(request: Request) -> Response:
    runtime = runtime_of(request)
    repo = await runtime.store.get_repository(request.path_params["id"])
    checked = await verify_repository(repo, runtime.github, runtime.settings.remote_policy)
    fields = ("display_name", "owner", "default_branch", "clone_url", "is_verified", "last_verified_at")
    updated = await runtime.store.update_repository(repo.id, {f: getattr(checked, f) for f in fields})
    return JSONResponse(dump(updated))


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

