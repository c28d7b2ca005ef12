"""POST /{id}/cancel and /{id}/retry: the API's stop and retry, with 404 and 409 saying why not."""

from __future__ import annotations

from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.testing import FakeGitHub

API = "/api/agent-work-orders"


def queued(client: TestClient, issue: int | None = None) -> str:
    client.post(f"{API}/repositories", json={"repository_url": "Codertocat/Hello-World", "verify": False})
    body = {"repository_url": "Codertocat/Hello-World", "user_request": "Add a file"}
    created = client.post(f"{API}/", json=body if issue is None else {**body, "github_issue_number": str(issue)})
    assert created.status_code == 201, created.text
    return str(created.json()["agent_work_order_id"])


def test_a_waiting_work_order_is_cancelled_then_retried(client: TestClient) -> None:
    work_order_id = queued(client)
    cancelled = client.post(f"{API}/{work_order_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["message"]) == ("cancelled", "work order cancelled")
    assert client.get(f"{API}/{work_order_id}").json()["status"] == "cancelled"
    again = client.post(f"{API}/{work_order_id}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == (f"work order {work_order_id} is cancelled: only a pending or running one can "
                                      "be cancelled")
    retried = client.post(f"{API}/{work_order_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    twice = client.post(f"{API}/{work_order_id}/retry")
    assert twice.status_code == 409 and "only a failed or cancelled one can be retried" in twice.json()["detail"]


async def test_a_running_work_order_is_asked_to_stop(client: TestClient, runtime: Runtime) -> None:
    work_order_id = queued(client)
    assert (await runtime.store.claim("w1", 60)) is not None
    asked = client.post(f"{API}/{work_order_id}/cancel")
    assert asked.status_code == 202 and asked.json()["status"] == "running"
    assert await runtime.store.cancel_requests([work_order_id]) == [work_order_id]


def test_an_unknown_or_malformed_id_is_not_found(client: TestClient) -> None:
    for path in ("wo-missing/cancel", "wo-missing/retry", "..%2f/cancel"):
        assert client.post(f"{API}/{path}").status_code == 404


async def test_a_work_order_asked_for_on_an_issue_shows_the_cancel_on_its_comment(
    client: TestClient, github: FakeGitHub, runtime: Runtime,
) -> None:
    work_order_id = queued(client, issue=12)
    comment_id = await github.create_comment("Codertocat/Hello-World", 12, "queued")
    await runtime.store.update_work_order(work_order_id, {"progress_comment_id": comment_id})
    assert client.post(f"{API}/{work_order_id}/cancel").status_code == 200
    assert "⏹️ Cancelled" in github.comments[comment_id][2]
