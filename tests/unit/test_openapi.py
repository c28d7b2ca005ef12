"""/openapi.json: every route of the app is described (a route added later fails here until it is), and public."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.web.app import create_app
from bot.web.openapi import OPERATIONS, Operation, describe


def app_operations(runtime: Runtime) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; HEAD comes with GET and is not described apart."""
    routes = [r for r in create_app(runtime).routes if isinstance(r, Route)]
    return {(m, r.path) for r in routes for m in (r.methods or ()) if m != "HEAD"}


def test_every_route_of_the_app_is_described(runtime: Runtime) -> None:
    described = {op.key for op in OPERATIONS}
    missing = app_operations(runtime) - described
    assert not missing, f"describe these in bot/web/openapi.py OPERATIONS (one line each): {sorted(missing)}"


def test_every_description_names_a_route_of_the_app(runtime: Runtime) -> None:
    assert {op.key for op in OPERATIONS} - app_operations(runtime) == set()


def test_a_route_without_a_description_is_caught(runtime: Runtime) -> None:
    """The check above compares against the app, not against itself: one entry fewer is a missing route."""
    fewer = {op.key for op in OPERATIONS[1:]}
    assert app_operations(runtime) - fewer == {OPERATIONS[0].key}


def test_the_description_is_public_and_names_the_token_scheme(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as anonymous:
        answer = anonymous.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["apiToken"] == {
        "type": "http", "scheme": "bearer", "description": "AWO_API_TOKEN"}
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "security" not in document["paths"]["/metrics"]["get"]  # the document's default: the token
    listing = document["paths"]["/api/agent-work-orders/"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/WorkOrder"}}
    assert listing["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"}


def test_request_bodies_are_the_handlers_models() -> None:
    document = describe()
    create = document["paths"]["/api/agent-work-orders/"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"] == {"$ref": "#/components/schemas/CreateWorkOrder"}
    schema = document["components"]["schemas"]["CreateWorkOrder"]
    assert schema["required"] == ["repository_url", "user_request"]
    assert schema["properties"]["user_request"]["maxLength"] == 65536


def test_adding_a_route_is_one_entry() -> None:
    extra = Operation("GET", "/api/agent-work-orders/{id}/logs", "A work order's log", ok={"type": "object"},
                      errors=(404,))
    document = describe((*OPERATIONS, extra))
    logs = document["paths"]["/api/agent-work-orders/{id}/logs"]["get"]
    assert [p["name"] for p in logs["parameters"]] == ["id"]
    assert set(logs["responses"]) == {"200", "401", "403", "404"}
