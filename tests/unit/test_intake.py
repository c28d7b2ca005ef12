"""Intake cannot die: poison deliveries, signed and sent to the real app, are recorded and intake goes on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from githubkit.webhooks import sign
from starlette.testclient import TestClient

from bot.errors import GitHubError, StoreUnavailable
from bot.models import Delivery
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.store import Store
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import SECRET, make_settings
from tests.payloads import example

API = "/api/agent-work-orders"
TOKEN = "api-token-for-intake-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST_RETRIES = (0.01, 0.01, 0.01)
GITHUB_API = "https://api.github.test"
REPO = "/repos/Codertocat/Hello-World"


def intake_settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, api_token=TOKEN, **overrides)


def deliver(client: TestClient, payload: object, delivery: str, event: str = "issues") -> int:
    raw = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(SECRET, raw, "sha256")}
    return client.post("/webhooks/github", content=raw, headers=headers).status_code


def outcome(client: TestClient, delivery: str, timeout: float = 5.0) -> str:
    """The delivery's outcome as the API shows it, once intake has processed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = client.get(f"{API}/deliveries/{delivery}", headers=AUTH).json()
        if shown.get("processed_at"):
            return str(shown["outcome"])
        time.sleep(0.02)
    raise AssertionError(f"delivery {delivery} was not processed in {timeout}s")


def configure(client: TestClient) -> None:
    body = {"repository_url": "https://github.com/Codertocat/Hello-World", "verify": False}
    assert client.post(f"{API}/repositories", json=body, headers=AUTH).status_code == 201


def good_issue() -> dict[str, Any]:
    return example("issues", "opened", issue__body="@claude fix the typo", issue__number=7)


@pytest.fixture
def app(tmp_path: Path, github: FakeGitHub, agent: FakeAgent) -> Iterator[TestClient]:
    runtime = build_runtime(intake_settings(tmp_path), github=github, agent=agent)
    runtime.intake.retry_delays = FAST_RETRIES
    with TestClient(create_app(runtime)) as client:
        configure(client)
        yield client


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


@pytest.mark.parametrize(
    ("poison", "expected"),
    [
        (without(example("issues", "opened", issue__body="@claude x"), "issue"), "ignored: malformed payload: issue"),
        (example("issues", "opened", issue__body="@claude x", repository="x"), "ignored: malformed payload: repo"),
        (example("issues", "opened", issue__body="@claude x", issue__number=2**31), "ignored: malformed payload"),
        (example("issues", "opened", issue__body="@claude x", issue__title=7), "ignored: malformed payload"),
    ],
    ids=["no-issue", "repository-is-a-string", "issue-number-out-of-range", "title-is-a-number"],
)
def test_a_malformed_delivery_is_ignored_with_a_reason_and_intake_goes_on(
    app: TestClient, poison: dict[str, Any], expected: str
) -> None:
    assert deliver(app, poison, "poison") == 202
    assert deliver(app, good_issue(), "good") == 202
    assert outcome(app, "poison").startswith(expected)
    assert outcome(app, "good").startswith("queued wo-")


class BrokenGitHub(FakeGitHub):
    """GitHub as the bot saw it once: a bug-shaped failure for one login, counted."""

    calls: int = 0

    async def permission(self, full_name: str, login: str) -> str:
        if login == "poison":
            self.calls += 1
            raise KeyError("role_name")
        return await super().permission(full_name, login)


def test_an_unexpected_failure_is_recorded_on_the_delivery_and_never_requeued(tmp_path: Path) -> None:
    github = BrokenGitHub(permissions={"Codertocat": "write"})
    settings = intake_settings(tmp_path, storage_type="sqlite")
    runtime = build_runtime(settings, github=github)
    with TestClient(create_app(runtime)) as client:
        configure(client)
        assert deliver(client, example("issues", "opened", issue__body="@claude x", sender__login="poison"),
                       "poison") == 202
        assert deliver(client, good_issue(), "good") == 202
        assert outcome(client, "poison") == "failed: KeyError: 'role_name'"
        assert outcome(client, "good").startswith("queued wo-")
        health = client.get("/health").json()["intake"]
        assert health["status"] == "running" and health["failed"] == 1 and "KeyError" in health["last_error"]
        failed = client.get(f"{API}/deliveries?outcome=failed", headers=AUTH).json()
        assert [d["delivery_id"] for d in failed] == ["poison"] and "payload" not in failed[0]

    restarted = build_runtime(settings, github=github)
    with TestClient(create_app(restarted)) as client:
        assert restarted.intake.backlog == 0
        assert outcome(client, "poison") == "failed: KeyError: 'role_name'"
    assert github.calls == 1, "a failed delivery must not be processed again at the next start"


class FlakyGitHub(FakeGitHub):
    """Answers the permission check with `error` the first `failures` times."""

    failures: int = 0
    error: GitHubError = GitHubError("permission of Codertocat: GitHub answered 502", 502)

    async def permission(self, full_name: str, login: str) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return await super().permission(full_name, login)


@pytest.mark.parametrize(("failures", "expected"), [(2, "queued wo-"), (10, "failed: permission of Codertocat")])
def test_a_transient_github_failure_is_retried_then_recorded(tmp_path: Path, failures: int, expected: str) -> None:
    github = FlakyGitHub(permissions={"Codertocat": "write"})
    github.failures = failures
    runtime = build_runtime(intake_settings(tmp_path), github=github)
    runtime.intake.retry_delays = FAST_RETRIES
    with TestClient(create_app(runtime)) as client:
        configure(client)
        assert deliver(client, good_issue(), "flaky") == 202
        assert outcome(client, "flaky").startswith(expected)


def test_a_permanent_github_error_is_recorded_at_once(tmp_path: Path) -> None:
    github = FlakyGitHub(permissions={"Codertocat": "write"})
    github.failures, github.error = 10, GitHubError("permission of Codertocat: GitHub answered 403: Forbidden", 403)
    runtime = build_runtime(intake_settings(tmp_path), github=github)
    runtime.intake.retry_delays = (30.0,)  # a retry would outlast the test
    with TestClient(create_app(runtime)) as client:
        configure(client)
        deliver(client, good_issue(), "forbidden")
        assert outcome(client, "forbidden") == "failed: permission of Codertocat: GitHub answered 403: Forbidden"
    assert github.failures == 9


@respx.mock(assert_all_called=False)
def test_github_answering_200_with_html_fails_that_delivery_only(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    """A proxy's maintenance page instead of GitHub's JSON, through the real githubkit client."""
    html = {"content-type": "text/html"}
    respx_mock.get(f"{GITHUB_API}{REPO}/collaborators/poison/permission").respond(200, text="<html>", headers=html)
    respx_mock.get(f"{GITHUB_API}{REPO}/collaborators/Codertocat/permission").respond(
        200, json={"permission": "write", "role_name": "write"})
    respx_mock.post(f"{GITHUB_API}{REPO}/issues/7/reactions").respond(201, json={"id": 1, "content": "eyes"})
    respx_mock.post(f"{GITHUB_API}{REPO}/issues/7/comments").respond(201, json={"id": 99})
    respx_mock.get(f"{GITHUB_API}/user").respond(200, json={"login": "awo-bot", "id": 1})
    respx_mock.get(url__regex=r".*/contents/\.github/agent-work-orders\.yml$").respond(404, json={"message": "x"})
    runtime = build_runtime(intake_settings(tmp_path, github_api_url=GITHUB_API))
    runtime.intake.retry_delays = FAST_RETRIES
    with TestClient(create_app(runtime)) as client:
        configure(client)
        deliver(client, example("issues", "opened", issue__body="@claude x", sender__login="poison"), "html")
        deliver(client, good_issue(), "good")
        assert outcome(client, "html") == (
            "failed: permission of poison: GitHub answered 200 with a body that is not JSON")
        assert outcome(client, "good").startswith("queued wo-")


class MarkFails:
    """The real store, except that recording one delivery's outcome raises a bug-shaped error."""

    def __init__(self, store: Store, poison: str) -> None:
        self._store, self._poison = store, poison

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def mark_delivery(self, delivery_id: str, outcome: str) -> None:
        if delivery_id == self._poison:
            raise RuntimeError("disk I/O error")
        await self._store.mark_delivery(delivery_id, outcome)


class Outage:
    """The real store, unreachable while `down` is set (as Postgres is when its server stops)."""

    def __init__(self, store: Store) -> None:
        self._store, self.down = store, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def list_repositories(self) -> Any:
        if self.down:
            raise StoreUnavailable("Postgres: connection refused")
        return await self._store.list_repositories()

    async def mark_delivery(self, delivery_id: str, outcome: str) -> None:
        if self.down:
            raise StoreUnavailable("Postgres: connection refused")
        await self._store.mark_delivery(delivery_id, outcome)


def test_a_store_outage_longer_than_the_retries_loses_no_delivery(app: TestClient) -> None:
    runtime: Runtime = app.app.state.runtime  # type: ignore[attr-defined]
    outage = Outage(runtime.store)
    runtime.intake.store = outage  # type: ignore[assignment]
    deliver(app, good_issue(), "during")
    deadline = time.monotonic() + 5
    while "connection refused" not in (runtime.intake.state.last_error or "") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # every retry is used up and then some, while nothing can be recorded
    settled = time.monotonic() + 2  # on a busy machine the delivery may be mid-try: waiting again is what counts
    while runtime.intake.backlog != 1 and time.monotonic() < settled:
        time.sleep(0.01)
    assert runtime.intake.backlog == 1 and runtime.intake.state.failed == 0
    outage.down = False
    assert outcome(app, "during").startswith("queued wo-")


def test_the_supervisor_restarts_intake_and_health_says_so(app: TestClient) -> None:
    runtime: Runtime = app.app.state.runtime  # type: ignore[attr-defined]
    runtime.intake.store = MarkFails(runtime.store, "poison")  # type: ignore[assignment]
    deliver(app, example("issues", "opened", issue__body="@claude x", issue__state="closed"), "poison")
    deliver(app, good_issue(), "good")
    assert outcome(app, "good").startswith("queued wo-")
    health = app.get("/health").json()["intake"]
    assert health["restarts"] == 1 and "disk I/O error" in health["last_error"]
    assert health["status"] == "running" and health["queued"] == 0


def test_health_shows_intake_restarting(app: TestClient) -> None:
    runtime: Runtime = app.app.state.runtime  # type: ignore[attr-defined]
    runtime.intake.state.status = "restarting"
    body = app.get("/health").json()
    assert body["intake"]["status"] == "restarting" and body["status"] == "degraded"


def test_deliveries_api_lists_filters_and_shows_one(app: TestClient) -> None:
    deliver(app, example("ping"), "p-1", event="ping")
    deliver(app, good_issue(), "q-1")
    assert outcome(app, "q-1").startswith("queued") and outcome(app, "p-1") == "ignored: ping"
    listed = app.get(f"{API}/deliveries", headers=AUTH).json()
    assert {d["delivery_id"] for d in listed} == {"p-1", "q-1"} and all("payload" not in d for d in listed)
    assert [d["delivery_id"] for d in app.get(f"{API}/deliveries?outcome=ignored&limit=5", headers=AUTH).json()] == [
        "p-1"]
    one = app.get(f"{API}/deliveries/q-1", headers=AUTH).json()
    assert one["event"] == "issues" and one["action"] == "opened" and "payload" not in one
    full = app.get(f"{API}/deliveries/q-1?payload=true", headers=AUTH).json()
    assert full["payload"]["issue"]["number"] == 7


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "outcome=fail%25", "outcome=FAILED"])
def test_deliveries_api_refuses_bad_queries(app: TestClient, query: str) -> None:
    assert app.get(f"{API}/deliveries?{query}", headers=AUTH).status_code == 422


def test_an_unknown_delivery_is_a_404(app: TestClient) -> None:
    assert app.get(f"{API}/deliveries/nope", headers=AUTH).status_code == 404


def test_deliveries_need_the_api_token(app: TestClient) -> None:
    assert app.get(f"{API}/deliveries").status_code == 401
    assert app.get(f"{API}/deliveries/x").status_code == 401


async def test_process_records_what_the_router_says_for_any_stored_payload(runtime: Runtime) -> None:
    """A row written straight into the store (not through the webhook) is processed as safely."""
    await runtime.store.open()
    try:
        delivery = Delivery(delivery_id="raw", event="issue_comment", action="created",
                            payload={"action": "created", "issue": [], "comment": "x"})
        await runtime.store.record_delivery(delivery)
        await runtime.intake.handle(delivery)
        assert (await runtime.store.get_delivery("raw")).outcome.startswith(  # type: ignore[union-attr]
            "ignored: malformed payload")
    finally:
        await runtime.store.close()
