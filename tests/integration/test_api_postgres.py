"""Malformed input against the API and the webhook on real Postgres: a 4xx, never a database error as a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from githubkit.webhooks import sign
from starlette.testclient import TestClient

from bot.models import Status, WorkOrder
from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, SECRET, make_settings
from tests.integration.conftest import empty_tables
from tests.payloads import example

pytestmark = pytest.mark.postgres
API = "/api/agent-work-orders"


@pytest.fixture
def pg_client(tmp_path: Path, github: FakeGitHub, postgres_url: str) -> Iterator[TestClient]:
    empty_tables(postgres_url)
    settings = make_settings(tmp_path, storage_type="postgres", database_url=postgres_url)
    runtime = build_runtime(settings, github=github)
    runtime.intake.submit = lambda delivery: None  # type: ignore[method-assign]
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=AUTH) as client:
        yield client


def test_malformed_api_input_on_postgres_is_a_4xx(pg_client: TestClient) -> None:
    created = pg_client.post(f"{API}/repositories", json={"repository_url": "Codertocat/Hello-World", "verify": False})
    assert created.status_code == 201, created.text
    repo_id = created.json()["id"]
    attempts = [
        ("GET", f"{API}/%00", None), ("GET", f"{API}/wo-%00/steps", None), ("GET", f"{API}/{'w' * 5000}", None),
        ("PATCH", f"{API}/repositories/{repo_id}", {"default_sandbox_type": "kubernetes"}),
        ("PATCH", f"{API}/repositories/{repo_id}", {"default_branch": "a\u0000b"}),
        ("PATCH", f"{API}/repositories/%00", {"default_branch": "main"}),
        ("DELETE", f"{API}/repositories/{repo_id}x", None),
        ("POST", f"{API}/", {"repository_url": "Codertocat/Hello-World", "user_request": "go",
                             "github_issue_number": "99999999999"}),
        ("POST", f"{API}/", {"repository_url": "Codertocat/Hello-World", "user_request": "go\u0000"}),
        ("POST", f"{API}/", {"repository_url": "Codertocat/Hello-World\u0000", "user_request": "go"}),
    ]
    for method, path, body in attempts:
        response = pg_client.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (method, path, body, response.status_code, response.text)
    assert pg_client.get(f"{API}/").json() == []
    assert pg_client.get(f"{API}/repositories").json()[0]["default_sandbox_type"] == "git_worktree"


@pytest.mark.parametrize("edits", [
    {"comment__body": "@claude \u0000 hi"},
    # in a part the webhook does not read on receipt: the comment is a trigger, so its body is stored
    {"comment__body": "@claude hi", "comment__user__login": "Octo\u0000cat"},
], ids=["read-part", "unread-part"])
def test_a_signed_delivery_with_a_nul_character_is_a_400_on_postgres(
    pg_client: TestClient, edits: dict[str, str],
) -> None:
    body = json.dumps(example("issue_comment", "created", **edits)).encode()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "nul-1", "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(SECRET, body)}
    response = pg_client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400, response.text


def test_a_delivery_id_too_long_for_the_primary_key_is_a_400_on_postgres(pg_client: TestClient) -> None:
    body = json.dumps(example("ping")).encode()
    for delivery, event in (("d" * 9000, "ping"), ("ok-id", "Ping Event"), ("sp ace", "ping")):
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(SECRET, body)}
        assert pg_client.post("/webhooks/github", content=body, headers=headers).status_code == 400
    assert pg_client.post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "ping", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": sign(SECRET, body)}).status_code == 202


def test_archons_fields_and_pages_on_postgres(pg_client: TestClient) -> None:
    runtime = pg_client.app.state.runtime  # type: ignore[attr-defined]
    order = WorkOrder(repository_url="https://github.com/o/r", repo_full_name="o/r", issue_number=4,
                      status=Status.COMPLETED, metadata={"commits": ["a" * 40], "files_changed": 2})
    pg_client.portal.call(runtime.store.create_work_order, order)  # type: ignore[union-attr]
    [shown] = pg_client.get(f"{API}/").json()
    assert (shown["github_issue_number"], shown["current_phase"], shown["git_commit_count"],
            shown["git_files_changed"], shown["sandbox_type"]) == ("4", "completed", 1, 2, "git_worktree")
    for name in ("o/a", "o/b", "o/c"):
        assert pg_client.post(f"{API}/repositories", json={"repository_url": name, "verify": False}).status_code == 201
    first = pg_client.get(f"{API}/repositories", params={"limit": 2})
    assert [r["repository_url"] for r in first.json()] == ["https://github.com/o/a", "https://github.com/o/b"]
    rest = pg_client.get(first.links["next"]["url"]).json()
    assert [r["repository_url"] for r in rest] == ["https://github.com/o/c"]
    assert pg_client.get(f"{API}/deliveries", params={"offset": "-1"}).status_code == 422
