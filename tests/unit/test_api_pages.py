"""`limit` and `offset` on every list of the API: pages that add up to the whole list, a `Link` to the next page,
and a clear 422 for a bad value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.models import Delivery, Repository, Step, WorkOrder
from bot.runtime import Runtime

API = "/api/agent-work-orders"
BASE = datetime(2025, 3, 1, tzinfo=UTC)
BAD = [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"limit": "-1"}, {"offset": "-1"},
       {"offset": "1000001"}, {"offset": "1.5"}, {"limit": "1e3"}]


def call(client: TestClient, runtime: Runtime, method: Any, *args: Any) -> Any:
    return client.portal.call(method, *args)  # type: ignore[union-attr]


def walk(client: TestClient, url: str, params: dict[str, Any], key: str | None = None) -> list[list[str]]:
    """Every page, following `Link: rel="next"`, as lists of ids."""
    pages: list[list[str]] = []
    response = client.get(url, params=params)
    for _ in range(20):  # a bound: a link that does not advance fails instead of looping
        assert response.status_code == 200, response.text
        body = response.json()
        rows = body[key] if key else body
        pages.append([r.get("id") or r.get("delivery_id") or r.get("step") for r in rows])
        if "next" not in response.links:
            return pages
        response = client.get(response.links["next"]["url"])
    raise AssertionError("the next links never ended")


@pytest.fixture
def filled(client: TestClient, runtime: Runtime) -> WorkOrder:
    store = runtime.store
    for n in range(5):
        call(client, runtime, store.add_repository,
             Repository(repository_url=f"https://github.com/octo/repo-{n}", created_at=BASE + timedelta(minutes=n)))
        call(client, runtime, store.record_delivery,
             Delivery(delivery_id=f"d-{n}", event="issues", received_at=BASE + timedelta(minutes=n)))
    order = call(client, runtime, store.create_work_order,
                 WorkOrder(repository_url="https://github.com/octo/repo-0", repo_full_name="octo/repo-0"))
    for n in range(5):
        call(client, runtime, store.add_step, Step(agent_work_order_id=order.id, step=f"s{n}", agent_name="x",
                                                   success=True, step_order=n + 1))
    return order  # type: ignore[no-any-return]


def test_repositories_page_by_limit_and_offset(client: TestClient, filled: WorkOrder) -> None:
    everything = client.get(f"{API}/repositories").json()
    assert len(everything) == 5 and "link" not in client.get(f"{API}/repositories").headers
    ids = [r["id"] for r in everything]
    assert walk(client, f"{API}/repositories", {"limit": 2}) == [ids[0:2], ids[2:4], ids[4:5]]
    assert [r["id"] for r in client.get(f"{API}/repositories", params={"offset": 3}).json()] == ids[3:]


def test_steps_page_by_limit_and_offset(client: TestClient, filled: WorkOrder) -> None:
    url = f"{API}/{filled.id}/steps"
    assert walk(client, url, {"limit": 2}, "steps") == [["s0", "s1"], ["s2", "s3"], ["s4"]]
    page = client.get(url, params={"limit": 1, "offset": 4}).json()
    assert page["agent_work_order_id"] == filled.id and [s["step"] for s in page["steps"]] == ["s4"]
    assert client.get(f"{API}/wo-missing/steps", params={"limit": 1}).status_code == 404


def test_deliveries_page_by_limit_and_offset(client: TestClient, filled: WorkOrder) -> None:
    assert walk(client, f"{API}/deliveries", {"limit": 2}) == [["d-4", "d-3"], ["d-2", "d-1"], ["d-0"]]
    assert [d["delivery_id"] for d in client.get(f"{API}/deliveries", params={"offset": 4}).json()] == ["d-0"]


def test_work_orders_page_by_offset(client: TestClient, filled: WorkOrder) -> None:
    assert [w["agent_work_order_id"] for w in client.get(f"{API}/", params={"offset": 0}).json()] == [filled.id]
    assert client.get(f"{API}/", params={"offset": 1}).json() == []


@pytest.mark.parametrize("params", BAD)
@pytest.mark.parametrize("path", ["/", "/repositories", "/deliveries", "/{id}/steps"])
def test_a_bad_limit_or_offset_is_a_422_that_names_it(
    client: TestClient, filled: WorkOrder, path: str, params: dict[str, str]
) -> None:
    answer = client.get(API + path.format(id=filled.id), params=params)
    assert answer.status_code == 422, answer.text
    [(name, _)] = params.items()
    assert name in str(answer.json()["detail"])
