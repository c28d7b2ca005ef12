"""POST /webhooks/github: signatures, duplicates, size, JSON, ping, secret rotation; record before answer."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from githubkit.webhooks import sign
from starlette.testclient import TestClient

from bot.github import signature_valid
from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import SECRET, make_settings
from tests.e2e.harness import wait_until
from tests.payloads import example
from tests.support.raw_asgi import call, megabytes


def post(client: TestClient, payload: object, *, event: str = "issues", delivery: str = "d-1",
         secret: str | None = SECRET, body: bytes | None = None, **headers: str):
    raw = body if body is not None else json.dumps(payload).encode()
    sent = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    if secret is not None:
        sent["X-Hub-Signature-256"] = sign(secret, raw, "sha256")
    sent.update(headers)
    return client.post("/webhooks/github", content=raw, headers={k: v for k, v in sent.items() if v})


def deliveries(client: TestClient) -> list:
    """Every recorded delivery, decided on receipt or not."""
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    return client.portal.call(store.list_deliveries)  # type: ignore[union-attr]


@pytest.fixture
def idle_client(tmp_path: Path, github: FakeGitHub) -> Iterator[TestClient]:
    """An app whose intake never runs, so recorded deliveries stay visible."""
    runtime = build_runtime(make_settings(tmp_path), github=github)
    runtime.intake.submit = lambda delivery: None  # type: ignore[method-assign]
    with TestClient(create_app(runtime)) as client:
        yield client


def test_good_signature_is_recorded_then_accepted(idle_client: TestClient) -> None:
    response = post(idle_client, example("ping"), event="ping", delivery="abc")
    assert response.status_code == 202
    assert response.json() == {"status": "pong", "delivery_id": "abc"}
    assert [d.delivery_id for d in deliveries(idle_client)] == ["abc"]


def test_redelivery_answers_200_and_records_nothing_new(idle_client: TestClient) -> None:
    payload = example("issues", "labeled")
    assert post(idle_client, payload, delivery="same").status_code == 202
    again = post(idle_client, payload, delivery="same")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(deliveries(idle_client)) == 1


@pytest.mark.parametrize(
    ("headers", "secret"),
    [
        ({}, None),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, None),
        ({}, "wrong-secret"),
        ({"X-Hub-Signature-256": "", "X-Hub-Signature": "sha1=abc"}, None),
    ],
    ids=["missing", "garbage", "wrong-secret", "sha1-only"],
)
def test_bad_signatures_are_refused_and_change_nothing(
    idle_client: TestClient, headers: dict, secret: str | None
) -> None:
    response = post(idle_client, example("ping"), event="ping", secret=secret, **headers)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert deliveries(idle_client) == []


def test_a_valid_sha1_signature_alone_is_not_enough(idle_client: TestClient) -> None:
    raw = json.dumps(example("ping")).encode()
    sha1 = {"X-Hub-Signature": sign(SECRET, raw, "sha1")}
    response = post(idle_client, None, event="ping", secret=None, body=raw, **sha1)
    assert response.status_code == 401


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
def test_missing_headers_are_a_400(idle_client: TestClient, missing: str) -> None:
    response = post(idle_client, example("ping"), event="ping", **{missing: ""})
    assert response.status_code == 400
    assert deliveries(idle_client) == []


def test_a_body_that_is_not_json_is_a_400(idle_client: TestClient) -> None:
    response = post(idle_client, None, body=b"payload=%7B%7D")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert deliveries(idle_client) == []


def test_oversize_body_is_refused_while_streaming(idle_client: TestClient) -> None:
    chunk = b" " * (1024 * 1024)

    def body() -> Iterator[bytes]:
        yield from (chunk for _ in range(26))

    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "big", "X-Hub-Signature-256": "sha256=0"}
    response = idle_client.post("/webhooks/github", content=body(), headers=headers)
    assert response.status_code == 413
    assert deliveries(idle_client) == []


def test_oversize_declared_length_is_refused_before_reading(idle_client: TestClient) -> None:
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "big", "Content-Length": str(30 * 1024 * 1024),
               "X-Hub-Signature-256": "sha256=0"}
    response = idle_client.post("/webhooks/github", content=b"{}", headers=headers)
    assert response.status_code == 413


def test_secret_rotation_accepts_either_secret(tmp_path: Path, github: FakeGitHub) -> None:
    runtime = build_runtime(make_settings(tmp_path, webhook_secrets=("old-secret", "new-secret")), github=github)
    with TestClient(create_app(runtime)) as client:
        assert post(client, example("ping"), event="ping", delivery="1", secret="old-secret").status_code == 202
        assert post(client, example("ping"), event="ping", delivery="2", secret="new-secret").status_code == 202
        assert post(client, example("ping"), event="ping", delivery="3", secret="other").status_code == 401


def test_without_a_configured_secret_everything_is_refused(
    tmp_path: Path, github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build_runtime(make_settings(tmp_path, webhook_secrets=()), github=github)
    with TestClient(create_app(runtime)) as client:
        response = post(client, example("ping"), event="ping")
    assert response.status_code == 401
    assert "GITHUB_WEBHOOK_SECRET is not set" in caplog.text


def test_store_down_answers_503(idle_client: TestClient) -> None:
    store = idle_client.app.state.runtime.store  # type: ignore[attr-defined]
    idle_client.portal.call(store.close)  # type: ignore[union-attr]
    response = post(idle_client, example("ping"), event="ping")
    assert response.status_code == 503


def test_receive_makes_no_github_call(idle_client: TestClient, github: FakeGitHub) -> None:
    post(idle_client, example("issues", "labeled", label__name="claude"), delivery="x")
    assert github.comments == {} and github.reactions == []


def test_intake_turns_a_labelled_issue_into_a_queued_work_order(client: TestClient, github: FakeGitHub) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    client.post("/api/agent-work-orders/repositories",
                json={"repository_url": "https://github.com/Codertocat/Hello-World", "verify": False})
    assert post(client, example("issues", "labeled", label__name="claude"), delivery="q1").status_code == 202
    orders = wait_until(lambda: [o for o in client.get("/api/agent-work-orders/").json() if o["progress_comment_id"]])
    assert orders[0]["status"] == "pending" and orders[0]["issue_number"] == 1
    assert github.reactions == [("Codertocat/Hello-World", 1, None, "eyes")]
    [(repo, issue, body)] = github.comments.values()
    assert f"<!-- agent-work-order:{orders[0]['agent_work_order_id']} -->" in body and "Queued" in body
    assert orders[0]["progress_comment_id"] in github.comments
    assert runtime is not None


def test_an_unauthorised_commenter_gets_no_work_order(client: TestClient, github: FakeGitHub) -> None:
    client.post("/api/agent-work-orders/repositories",
                json={"repository_url": "Codertocat/Hello-World", "verify": False})
    github.permissions["Codertocat"] = "read"
    post(client, example("issue_comment", "created", comment__body="@claude do it"), event="issue_comment")
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    wait_until(lambda: client.portal.call(store.unprocessed_deliveries) == [] or None)  # type: ignore[union-attr]
    assert client.get("/api/agent-work-orders/").json() == []
    assert github.comments == {}






def test_an_unsigned_25_mb_delivery_is_refused_before_its_body_is_read(idle_client: TestClient) -> None:
    for signature in ({}, {"X-Hub-Signature-256": "sha1=" + "0" * 40}, {"X-Hub-Signature-256": "0" * 64}):
        headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "unsigned", "Content-Length": str(25 << 20),
                   "Content-Type": "application/json", **signature}
        status, pulled = idle_client.portal.call(  # type: ignore[union-attr]
            call, idle_client.app, "POST", "/webhooks/github", headers, megabytes(25))
        assert (status, pulled) == (401, 0)
    assert deliveries(idle_client) == []


def test_a_sha1_hmac_inside_the_sha256_header_is_refused(idle_client: TestClient) -> None:
    raw = json.dumps(example("ping")).encode()
    response = post(idle_client, None, event="ping", secret=None, body=raw,
                    **{"X-Hub-Signature-256": sign(SECRET, raw, "sha1")})
    assert response.status_code == 401
    assert deliveries(idle_client) == []


def test_signature_check_only_takes_sha256() -> None:
    raw = b'{"zen": "Keep it logically awesome."}'
    assert signature_valid((SECRET,), raw, sign(SECRET, raw, "sha256"))
    assert not signature_valid((SECRET,), raw, sign(SECRET, raw, "sha1"))
    assert not signature_valid((SECRET,), raw, sign(SECRET, raw, "sha256").removeprefix("sha256="))
    assert not signature_valid((SECRET,), raw, None)


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    b'{"action": "opened", "issue": {"body": "\\ud800"}}',
    b'{"action": "opened", "n": NaN}',
    b'{"action": "opened", "n": 1e999}',
    b'{"action": "opened", "n": ' + b"9" * 5000 + b"}",
    b'{"action": "opened", "repository": "x"}',
    b'{"action": ["opened"], "repository": {"full_name": 7}}',
    b'{"action": "opened", "repository": null, "issue": []}',
    b'["not", "an", "object"]',
    b"\xff\xfe\x00",
    b"",
])
def test_malformed_signed_deliveries_are_a_4xx_or_recorded_never_a_500(idle_client: TestClient, body: bytes) -> None:
    response = post(idle_client, None, body=body)
    assert response.status_code in (202, 400), response.text
    if response.status_code == 202:
        [recorded] = deliveries(idle_client)
        assert recorded.action in ("", "opened") and recorded.repo_full_name == ""


@pytest.fixture
def file_client(tmp_path: Path, github: FakeGitHub) -> Iterator[tuple[TestClient, list[str]]]:
    """An app on an SQLite file (the fast insert path), with the ids intake was handed."""
    runtime = build_runtime(make_settings(tmp_path, storage_type="sqlite"), github=github)
    submitted: list[str] = []
    runtime.intake.submit = lambda delivery: submitted.append(delivery.delivery_id)  # type: ignore[method-assign]
    with TestClient(create_app(runtime)) as client:
        yield client, submitted


def test_a_delivery_that_can_never_trigger_is_recorded_with_its_outcome_and_skips_intake(
    file_client: tuple[TestClient, list[str]],
) -> None:
    client, submitted = file_client
    for delivery, text in (("quiet", "Thanks!"), ("loud", "@claude go")):
        post(client, example("issue_comment", "created", comment__body=text), event="issue_comment", delivery=delivery)
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    quiet = client.portal.call(store.get_delivery, "quiet")  # type: ignore[union-attr]
    pending = client.portal.call(store.unprocessed_deliveries)  # type: ignore[union-attr]
    assert quiet.outcome == "ignored: the comment does not mention @claude" and quiet.processed_at is not None
    # a possible trigger is recorded unprocessed before the answer, so a restart still finds it (Intake.recover)
    assert [d.delivery_id for d in pending] == ["loud"] and submitted == ["loud"]


def stored_payloads(store: object) -> dict[str, str]:
    with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
        return dict(conn.execute("SELECT delivery_id, payload FROM archon_agent_work_order_deliveries").fetchall())


def test_only_a_possible_trigger_keeps_its_body_by_default(file_client: tuple[TestClient, list[str]]) -> None:
    client, _ = file_client
    quiet = json.dumps(example("issue_comment", "created", comment__body="Thanks!")).encode()
    loud = json.dumps(example("issue_comment", "created", comment__body="@claude go")).encode()
    for delivery, body in (("quiet", quiet), ("loud", loud)):
        assert post(client, None, event="issue_comment", delivery=delivery, body=body).status_code == 202
    assert stored_payloads(client.app.state.runtime.store) == {"quiet": "{}", "loud": loud.decode()}


@pytest.fixture
def keeping_client(tmp_path: Path, github: FakeGitHub) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, storage_type="sqlite", keep_ignored_payloads=True)
    with TestClient(create_app(build_runtime(settings, github=github))) as client:
        yield client


def test_the_body_is_stored_as_received(keeping_client: TestClient) -> None:
    client = keeping_client
    body = b'{ "action":"created",  "zen": "Keep it logically awesome.\\u00e9" }'
    assert post(client, None, event="ping", delivery="raw", body=body).status_code == 202
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    with sqlite3.connect(store.path) as conn:
        [(stored,)] = conn.execute("SELECT payload FROM archon_agent_work_order_deliveries").fetchall()
    assert stored == body.decode()
    assert client.portal.call(store.get_delivery, "raw").payload["zen"].endswith("é")  # type: ignore[union-attr]
