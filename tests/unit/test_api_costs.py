"""GET /api/agent-work-orders/costs: each repository's dollars per UTC day, the last 30 days unless told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.models import Step, WorkOrder, utcnow
from bot.runtime import Runtime
from bot.store.rows import iso
from bot.store.sqlite import SqliteStore

COSTS = "/api/agent-work-orders/costs"
LEDGER = ("INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, cost_usd, at) "
          "VALUES (?, ?, 'implement', ?, ?)")


def spent(client: TestClient, runtime: Runtime, repo: str, wo: str, cost: float, at: datetime) -> None:
    """A ledger row at a chosen time, as the steps' trigger writes one (UTC text)."""
    store = runtime.store
    assert isinstance(store, SqliteStore)
    client.portal.call(store._run, lambda c: c.execute(LEDGER, (repo, wo, cost, iso(at.astimezone(UTC)))))


def answer(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(COSTS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_by_default_the_last_30_days_show_with_a_step_recorded_now(client: TestClient, runtime: Runtime) -> None:
    client.portal.call(runtime.store.create_work_order, WorkOrder(
        agent_work_order_id="wo-1", repository_url="https://github.com/octo/repo", repo_full_name="octo/repo"))
    client.portal.call(runtime.store.add_step, Step(agent_work_order_id="wo-1", step="implement",
                                                    agent_name="Implementor", success=True, cost_usd=0.42))
    spent(client, runtime, "octo/repo", "wo-0", 9.0, utcnow() - timedelta(days=31))  # before the 30 days
    body = answer(client)
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(days=30) and abs(until - utcnow()) < timedelta(minutes=1)
    assert body["days"] == [{"day": utcnow().date().isoformat(), "repository": "octo/repo", "cost_usd": 0.42,
                             "steps": 1, "work_orders": 1}]
    assert body["total_usd"] == 0.42


def test_days_are_utc_and_times_without_a_zone_are_utc(client: TestClient, runtime: Runtime) -> None:
    spent(client, runtime, "octo/a", "wo-1", 1.5, datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    spent(client, runtime, "octo/a", "wo-2", 0.25, datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    spent(client, runtime, "octo/b", "wo-3", 0.125, datetime(2026, 11, 30, 0, 30, tzinfo=UTC))
    body = answer(client, since="2026-11-29T00:00:00", until="2026-12-01T00:00:00")
    assert body["since"] == "2026-11-29T00:00:00+00:00" and body["until"] == "2026-12-01T00:00:00+00:00"
    assert [(d["day"], d["repository"], d["cost_usd"]) for d in body["days"]] == [
        ("2026-11-30", "octo/a", 0.25), ("2026-11-30", "octo/b", 0.125), ("2026-11-29", "octo/a", 1.5)]
    assert body["total_usd"] == 1.875
    in_paris = answer(client, since="2026-11-30T00:00:00+01:00", until="2026-11-30T01:00:00+01:00")  # 23:00-24:00
    assert [(d["day"], d["cost_usd"]) for d in in_paris["days"]] == [("2026-11-29", 1.5)]
    assert [d["repository"] for d in answer(client, since="2026-11-29", until="2026-12-01",
                                            repository="octo/b")["days"]] == ["octo/b"]


@pytest.mark.parametrize(("params", "says"), [
    ({"since": "2025-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"}, "366 days"),
    ({"since": "2020-01-01T00:00:00Z"}, "366 days"),  # until: now
    ({"since": "2026-11-30T00:00:00Z", "until": "2026-11-29T00:00:00Z"}, "after since"),
    ({"until": "0001-01-01T00:00:00"}, "between the years"),
    ({"since": "yesterday"}, "datetime"),
    ({"repository": "not a repository"}, "pattern"),
])
def test_a_bad_range_or_repository_is_a_422_that_says_why(client: TestClient, params: dict[str, str],
                                                          says: str) -> None:
    response = client.get(COSTS, params=params)
    assert response.status_code == 422 and says in response.text, response.text


def test_366_days_are_allowed(client: TestClient) -> None:
    assert answer(client, since="2025-11-30T00:00:00Z", until="2026-12-01T00:00:00Z")["days"] == []
