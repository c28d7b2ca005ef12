"""GET /openapi.json: the app's HTTP API as OpenAPI 3.1, built from the pydantic models the handlers use.

Every route of the app has one `Operation` in OPERATIONS (tests/unit/test_openapi.py fails for a route without
one, and for an entry naming no route). Adding a route is one line here, e.g.

    Operation("GET", f"{PREFIX}/{{id}}/logs", "A work order's log", ok=LogPage, errors=(404,)),

`ok` is the 2xx answer (a pydantic model, a list of one, or a JSON Schema dict), `body` the request's model,
`query` the query string's model; `errors` the 4xx/5xx statuses it can answer beyond those every guarded route can
(401 and 403, the token), each with the problem body `{"detail": ...}`. The description holds no data, so it is
public (bot/web/guard.py); schemathesis checks the app against it (tests/integration/test_api_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import __version__
from bot.models import Delivery, Repository, Status, Step, WorkOrder
from bot.web.api import PREFIX, CreateRepository, CreateWorkOrder, ListQuery, UpdateRepository
from bot.web.archon_api import VerifyRepository
from bot.web.costs_api import CostQuery
from bot.web.dashboard.forms import CostFilters, ListFilters
from bot.web.logs_api import LogQuery

PATH = "/openapi.json"
Schema = dict[str, Any]
Shape = type[BaseModel] | list[type[BaseModel]] | Schema | None
REF = "#/components/schemas/{model}"


class WorkOrderAnswer(WorkOrder):
    """A work order with what the action did to it."""

    message: str


class StepsAnswer(BaseModel):
    agent_work_order_id: str
    steps: list[Step]


PROBLEM: Schema = {
    "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}},
    "description": "What was wrong: a sentence, or (422) the model's complaints, each with loc, msg and type",
}
HEALTH: Schema = {
    "type": "object", "required": ["status", "service", "version", "storage_type", "database", "dependencies"],
    "properties": {
        "status": {"enum": ["healthy", "degraded", "unhealthy"]}, "service": {"type": "string"},
        "version": {"type": "string"}, "storage_type": {"type": "string"},
        "database": {"type": "object", "required": ["status", "tables_exist"],
                     "properties": {"status": {"type": "string"}, "tables_exist": {"type": "boolean"}}},
        "dependencies": {"type": "object"}, "reasons": {"type": "array", "items": {"type": "string"}},
    },
}
WEBHOOK_ANSWER: Schema = {
    "type": "object", "required": ["status", "delivery_id"],
    "properties": {"status": {"enum": ["accepted", "pong", "duplicate"]}, "delivery_id": {"type": "string"}},
}
METRICS_TEXT: Schema = {"type": "string", "description": "Prometheus' text exposition format"}
LOG_ENTRY: Schema = {
    "type": "object", "required": ["id", "agent_work_order_id", "at", "level", "kind", "message", "data"],
    "properties": {
        "id": {"type": "integer"}, "agent_work_order_id": {"type": "string"}, "at": {"type": "string"},
        "level": {"enum": ["debug", "info", "warning", "error"]}, "step": {"type": ["string", "null"]},
        "kind": {"type": "string"}, "message": {"type": "string"}, "data": {"type": "object"},
        "timestamp": {"type": "string"}, "event": {"type": "string"}, "work_order_id": {"type": "string"},
    },
}
LOG_PAGE: Schema = {
    "type": "object", "required": ["agent_work_order_id", "log_entries", "total", "limit", "offset", "next_after"],
    "properties": {
        "agent_work_order_id": {"type": "string"}, "log_entries": {"type": "array", "items": LOG_ENTRY},
        "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "next_after": {"type": "integer"},
    },
}
LOG_STREAM: Schema = {"type": "string", "description": "Server-Sent Events: `log` events (data: a log entry, id: "
                      "its id), then one `end` event after the work order's final status"}
GIT_PROGRESS: Schema = {
    "type": "object",
    "required": ["agent_work_order_id", "current_phase", "git_commit_count", "git_files_changed"],
    "properties": {
        "agent_work_order_id": {"type": "string"}, "current_phase": {"enum": ["planning", "completed"]},
        "git_commit_count": {"type": "integer"}, "git_files_changed": {"type": "integer"},
        "latest_commit_message": {"type": ["string", "null"]}, "git_branch_name": {"type": ["string", "null"]},
    },
}
VERIFIED: Schema = {
    "type": "object", "required": ["is_accessible"],
    "properties": {
        "is_accessible": {"type": "boolean"}, "repository_name": {"type": ["string", "null"]},
        "repository_owner": {"type": ["string", "null"]}, "default_branch": {"type": ["string", "null"]},
        "error_message": {"type": ["string", "null"]},
    },
}
COSTS: Schema = {
    "type": "object", "required": ["since", "until", "days", "total_usd"],
    "properties": {
        "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"},
        "days": {"type": "array", "description": "newest day first, then by repository", "items": {
            "type": "object", "required": ["day", "repository", "cost_usd", "steps", "work_orders"],
            "properties": {"day": {"type": "string", "format": "date", "description": "a UTC day"},
                           "repository": {"type": "string"}, "cost_usd": {"type": "number"},
                           "steps": {"type": "integer"}, "work_orders": {"type": "integer"}}}},
        "total_usd": {"type": "number"},
    },
}
HTML: Schema = {"type": "string", "description": "An HTML page of the dashboard"}
EVENTS: Schema = {"type": "string", "description": "Server-Sent Events for a dashboard page"}


class LoginForm(BaseModel):
    token: str
    next: str = "/"


class CsrfForm(BaseModel):
    csrf: str = ""


class RepositoryForm(CsrfForm):
    repository_url: str
    verify: str = ""


GITHUB_HEADERS = ("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256")
GUARDED_ERRORS = (401, 403)  # no token sent or a wrong one; the API disabled (AWO_API_TOKEN unset)
BODY_ERRORS = (408, 413, 415, 422)  # slow, too large, not JSON, not the model


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: Shape = None
    ok_status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    public: bool = False
    media_type: str = "application/json"
    form: type[BaseModel] | None = None  # a dashboard form's fields (application/x-www-form-urlencoded)
    overrides: dict[str, Schema] = field(default_factory=dict)  # query fields whose model type is not the wire's
    examples: dict[str, Any] = field(default_factory=dict)  # a path parameter's example, and "body": the body's

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def id_path(name: str, example: Any = None) -> Schema:
    described: Schema = {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
    return {**described, "example": example} if example is not None else described


# The examples name one work order, repository and delivery; the contract test's store holds exactly these, so
# schemathesis' explicit phase goes past the 404 (and a create past "not a configured repository").
WORK_ORDER = {"id": "wo-0123abcd"}
REPOSITORY = {"id": "00000000-0000-4000-8000-000000000001"}
CREATE_EXAMPLE = {"body": {"repository_url": "octo/repo", "user_request": "Add a README", "github_issue_number": 7}}


OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/webhooks/github", "Receive a GitHub webhook delivery (signed with GITHUB_WEBHOOK_SECRET)",
              ok=WEBHOOK_ANSWER, ok_status=202, errors=(400, 401, 408, 413, 503), public=True),
    Operation("GET", "/health", "The service, its store and its dependencies", ok=HEALTH, errors=(503,),
              public=True),
    Operation("GET", PATH, "This description", ok={"type": "object"}, public=True),
    Operation("GET", "/metrics", "Prometheus metrics (names repositories: behind the API token)", ok=METRICS_TEXT,
              errors=(503,), media_type="text/plain"),
    Operation("GET", f"{PREFIX}/", "Work orders, newest first (a full page links the next in `Link`)",
              ok=[WorkOrder], query=ListQuery, errors=(422,),
              overrides={"cursor": {"type": "string"}, "status": {"enum": [str(s) for s in Status]}}),
    Operation("POST", f"{PREFIX}/", "Create a work order on a configured repository", ok=WorkOrderAnswer,
              ok_status=201, body=CreateWorkOrder, errors=BODY_ERRORS, examples=CREATE_EXAMPLE),
    Operation("GET", f"{PREFIX}/{{id}}", "One work order", ok=WorkOrder, errors=(404,), examples=WORK_ORDER),
    Operation("GET", f"{PREFIX}/{{id}}/steps", "A work order's executed steps", ok=StepsAnswer, errors=(404,),
              examples=WORK_ORDER),
    Operation("POST", f"{PREFIX}/{{id}}/cancel", "Stop a work order (202 while its worker ends it)",
              ok=WorkOrderAnswer, errors=(404, 409, 502, 503), examples=WORK_ORDER),
    Operation("POST", f"{PREFIX}/{{id}}/retry", "Queue a failed or cancelled work order again", ok=WorkOrderAnswer,
              errors=(404, 409, 502, 503), examples=WORK_ORDER),
    Operation("GET", f"{PREFIX}/repositories", "Configured repositories", ok=[Repository]),
    Operation("POST", f"{PREFIX}/repositories", "Configure a repository (verified on GitHub unless verify=false)",
              ok=Repository, ok_status=201, body=CreateRepository, errors=(*BODY_ERRORS, 404, 409, 502, 503)),
    Operation("PATCH", f"{PREFIX}/repositories/{{id}}", "Change a repository's defaults", ok=Repository,
              body=UpdateRepository, errors=(*BODY_ERRORS, 404),
              examples={**REPOSITORY, "body": {"default_branch": "main", "default_commands": ["plan", "implement"]}}),
    Operation("DELETE", f"{PREFIX}/repositories/{{id}}", "Remove a configured repository", ok_status=204,
              errors=(404,)),
    Operation("POST", f"{PREFIX}/repositories/{{id}}/verify", "Check a repository on GitHub again", ok=Repository,
              errors=(404, 502, 503), examples=REPOSITORY),
    Operation("GET", f"{PREFIX}/{{id}}/logs", "A work order's log, oldest first (Archon's shape)", ok=LOG_PAGE,
              query=LogQuery, errors=(404, 422), examples=WORK_ORDER,
              overrides={"since": {"type": "string", "format": "date-time"}}),
    Operation("GET", f"{PREFIX}/{{id}}/logs/stream", "A work order's log, live, as Server-Sent Events", ok=LOG_STREAM,
              query=LogQuery, errors=(404, 422, 503), media_type="text/event-stream", examples=WORK_ORDER,
              overrides={"since": {"type": "string", "format": "date-time"}}),
    Operation("GET", f"{PREFIX}/{{id}}/git-progress", "Archon's git progress snapshot of a work order",
              ok=GIT_PROGRESS, errors=(404,), examples=WORK_ORDER),
    Operation("POST", f"{PREFIX}/github/verify-repository", "Archon's check of a repository on the bot's GitHub",
              ok=VERIFIED, body=VerifyRepository, errors=(*BODY_ERRORS, 503),
              examples={"body": {"repository_url": "octo/repo"}}),
    Operation("GET", f"{PREFIX}/costs", "Dollars spent per repository per UTC day in [since, until) (default: the "
              "last 30 days; at most 366)", ok=COSTS, query=CostQuery, errors=(422,),
              overrides={"since": {"type": "string", "format": "date-time"},
                         "until": {"type": "string", "format": "date-time"}}),
    Operation("GET", "/work-orders/{id}", "The work order's page (to `Accept: text/html`; else its JSON)",
              ok=WorkOrder, errors=(404,), examples=WORK_ORDER),
    # The dashboard: pages take the token or the login's session cookie; a page without either redirects (303)
    # to /login; forms answer with a redirect (303) to the page they changed.
    Operation("GET", "/", "The dashboard: work orders, filtered, newest first", ok=HTML, query=ListFilters,
              errors=(422,), media_type="text/html", overrides={"status": {"enum": [str(s) for s in Status]}}),
    Operation("GET", "/events", "The list's rows, live (the dashboard's stream)", ok=EVENTS, query=ListFilters,
              errors=(422, 503), media_type="text/event-stream"),
    Operation("GET", "/work-orders/{id}/events", "A work order's log entries and state, live (the dashboard's)",
              ok=EVENTS, errors=(404, 422, 503), media_type="text/event-stream", examples=WORK_ORDER),
    Operation("POST", "/work-orders/{id}/cancel", "Cancel from the dashboard", ok_status=303, form=CsrfForm,
              errors=(403, 404, 409, 415), media_type="text/html", examples=WORK_ORDER),
    Operation("POST", "/work-orders/{id}/retry", "Retry from the dashboard", ok_status=303, form=CsrfForm,
              errors=(403, 404, 409, 415), media_type="text/html", examples=WORK_ORDER),
    Operation("GET", "/repositories", "The dashboard's repositories page", ok=HTML, media_type="text/html"),
    Operation("POST", "/repositories", "Add a repository from the dashboard", ok_status=303, form=RepositoryForm,
              errors=(403, 409, 415, 422, 502, 503), media_type="text/html"),
    Operation("POST", "/repositories/{id}/verify", "Verify a repository from the dashboard", ok_status=303,
              form=CsrfForm, errors=(403, 404, 415, 502, 503), media_type="text/html", examples=REPOSITORY),
    Operation("POST", "/repositories/{id}/remove", "Remove a repository from the dashboard", ok_status=303,
              form=CsrfForm, errors=(403, 404, 415), media_type="text/html", examples=REPOSITORY),
    Operation("GET", "/costs", "The dashboard's costs per repository per day", ok=HTML, query=CostFilters,
              errors=(422,), media_type="text/html"),
    Operation("GET", "/favicon.ico", "The dashboard's icon", ok={"type": "string"}, public=True,
              media_type="image/svg+xml"),
    Operation("GET", "/login", "The dashboard's login form", ok=HTML, errors=(403,), public=True,
              media_type="text/html"),
    Operation("POST", "/login", "Log in with the API token: sets the session cookie", ok_status=303, form=LoginForm,
              errors=(401, 403, 415, 429), public=True, media_type="text/html"),
    Operation("POST", "/logout", "Log out: clears the session cookie", ok_status=303, form=CsrfForm,
              errors=(403, 415), media_type="text/html"),
    Operation("GET", f"{PREFIX}/deliveries", "Webhook deliveries, newest first, and what intake did with each",
              ok=[Delivery], errors=(422,)),
    Operation("GET", f"{PREFIX}/deliveries/{{delivery_id}}", "One delivery (its payload with ?payload=true)",
              ok=Delivery, errors=(404,), examples={"delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}),
)


def describe(operations: tuple[Operation, ...] = OPERATIONS) -> Schema:
    """The OpenAPI 3.1 document: paths from the operations, components from every model they name."""
    models: set[type[BaseModel]] = set()
    paths: dict[str, dict[str, Schema]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, models)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Agent Work Orders", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM, **_components(models)},
            "securitySchemes": {"apiToken": {"type": "http", "scheme": "bearer",
                                             "description": "AWO_API_TOKEN"}},
        },
        "security": [{"apiToken": []}],
    }


def _operation(op: Operation, models: set[type[BaseModel]]) -> Schema:
    parameters = [*_path_parameters(op), *_query_parameters(op)]
    if op.path == "/webhooks/github":
        parameters += [{"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                       for h in GITHUB_HEADERS]
    described: Schema = {"summary": op.summary, "operationId": _operation_id(op), "parameters": parameters,
                         "responses": _responses(op, models)}
    if op.body is not None:
        models.add(op.body)
        media: Schema = {"schema": _ref(op.body)}
        if "body" in op.examples:
            media["example"] = op.examples["body"]
        described["requestBody"] = {"required": True, "content": {"application/json": media}}
    elif op.form is not None:
        models.add(op.form)
        described["requestBody"] = {"required": True,
                                    "content": {"application/x-www-form-urlencoded": {"schema": _ref(op.form)}}}
    elif op.path == "/webhooks/github":
        described["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    if op.public:
        described["security"] = []
    return described


def _responses(op: Operation, models: set[type[BaseModel]]) -> Schema:
    answers: Schema = {}
    if op.ok_status == 204:
        answers["204"] = {"description": "Done"}
    elif op.ok_status == 303:
        answers["303"] = {"description": "Done: on to the page it changed (Location)"}
    else:
        answers[str(op.ok_status)] = {"description": "OK",
                                      "content": {op.media_type: {"schema": _schema_of(op.ok, models)}}}
    if op.path.endswith("/cancel"):
        answers["202"] = {"description": "Stop requested",
                          "content": {"application/json": {"schema": _schema_of(op.ok, models)}}}
    statuses = sorted({*op.errors, *(() if op.public else GUARDED_ERRORS)})
    page = op.media_type == "text/html"
    for status in statuses:
        problem: Schema = {"$ref": REF.format(model="Problem")}
        media = "text/html" if page and (op.public or status not in GUARDED_ERRORS) else "application/json"
        answers[str(status)] = {"description": "A problem",
                                "content": {media: {"schema": HTML if media == "text/html" else problem}}}
    return answers


def _schema_of(shape: Shape, models: set[type[BaseModel]]) -> Schema:
    if shape is None:
        return {}
    if isinstance(shape, list):
        return {"type": "array", "items": _schema_of(shape[0], models)}
    if isinstance(shape, dict):
        return shape
    models.add(shape)
    return _ref(shape)


def _ref(model: type[BaseModel]) -> Schema:
    return {"$ref": REF.format(model=model.__name__)}


def _components(models: set[type[BaseModel]]) -> dict[str, Schema]:
    """Each model's schema as the handler reads (request bodies) or writes (answers) it, with its nested models."""
    schemas: dict[str, Schema] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        read = model in (CreateWorkOrder, CreateRepository, UpdateRepository)
        schema = model.model_json_schema(ref_template=REF, mode="validation" if read else "serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _path_parameters(op: Operation) -> list[Schema]:
    names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
    return [id_path(name, op.examples.get(name)) for name in names]


def _query_parameters(op: Operation) -> list[Schema]:
    if op.path == f"{PREFIX}/deliveries":
        return [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                {"name": "outcome", "in": "query", "schema": {"type": "string", "pattern": "^[a-z]{1,20}$"}}]
    if op.query is None:
        return []
    properties = op.query.model_json_schema()["properties"]
    return [{"name": name, "in": "query", "schema": op.overrides.get(name, _plain(properties[name]))}
            for name in op.query.model_fields]


def _plain(schema: Schema) -> Schema:
    """A query field's schema without pydantic's title, default and null (a query string has no null)."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "default")}
    kinds = [s for s in schema.pop("anyOf", ()) if s != {"type": "null"}]
    return {**schema, **kinds[0]} if len(kinds) == 1 else schema


def _operation_id(op: Operation) -> str:
    words = [w for w in op.path.replace(PREFIX, "work_orders").split("/") if w and not w.startswith("{")]
    words = words or ["dashboard"]
    return "_".join([op.method.lower(), *words, *(["one"] if op.path.endswith("}") else [])]).replace(".", "_")


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(describe())


routes = [Route(PATH, openapi, methods=["GET"])]
