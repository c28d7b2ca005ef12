"""GET /api/agent-work-orders/: pages by offset or by the cursor in the Link header, filters, and clear 422s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.models import Status, WorkOrder
from bot.runtime import Runtime

API = "/api/agent-work-orders/"
BASE = datetime(2025, 3, 1, tzinfo=UTC)


def add(client: TestClient, runtime: Runtime, n: int, **fields: Any) -> None:
    """Work order n, created n minutes after BASE, on octo/repo-(n % 2) issue n % 3 + 1."""
    at = BASE + timedelta(minutes=n)
    values: dict[str, Any] = {
        "agent_work_order_id": f"wo-{n:04d}", "repository_url": f"https://github.com/octo/repo-{n % 2}",
        "repo_full_name": f"octo/repo-{n % 2}", "issue_number": n % 3 + 1, "created_at": at, "updated_at": at,
    }
    client.portal.call(runtime.store.create_work_order, WorkOrder(**{**values, **fields}))  # type: ignore[union-attr]


def listed(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [w["agent_work_order_id"] for w in response.json()]


def test_following_the_next_link_shows_every_work_order_once_while_more_arrive(
    client: TestClient, runtime: Runtime
) -> None:
    for n in range(11):
        add(client, runtime, n)
    seen: list[str] = []
    response = client.get(API, params={"limit": 3, "offset": 2})  # a first page by offset; the link continues it
    for arriving in range(100, 110):  # a bound, so a link that does not advance fails instead of looping
        seen += listed(response)
        add(client, runtime, arriving)  # newer than every page so far
        if "next" not in response.links:
            break
        response = client.get(response.links["next"]["url"])
    assert seen == [f"wo-{n:04d}" for n in range(8, -1, -1)]


def test_a_short_page_has_no_next_link_and_the_body_stays_a_json_array(client: TestClient, runtime: Runtime) -> None:
    add(client, runtime, 1)
    response = client.get(API)
    assert response.json()[0]["agent_work_order_id"] == "wo-0001" and "link" not in response.headers
    assert listed(client.get(API, params={"limit": 1})) == ["wo-0001"]
    following = client.get(API, params={"limit": 1, "status": "pending"}).links["next"]["url"]
    assert following.startswith(f"{API}?") and "status=pending" in following  # relative, filters kept


def test_filters_narrow_the_list(client: TestClient, runtime: Runtime) -> None:
    for n in range(12):
        add(client, runtime, n, status=Status.COMPLETED if n % 4 == 0 else Status.PENDING)
    assert listed(client.get(API, params={"status": "completed"})) == ["wo-0008", "wo-0004", "wo-0000"]
    assert listed(client.get(API, params={"repository": "octo/repo-1", "issue": 2})) == ["wo-0007", "wo-0001"]
    assert listed(client.get(API, params={"repository": "octo/repo-1", "since": "2025-03-01T00:07:00Z",
                                          "until": "2025-03-01T02:10:00+02:00"})) == ["wo-0009", "wo-0007"]
    assert listed(client.get(API, params={"since": "2025-03-01T00:10:00"})) == ["wo-0011", "wo-0010"]  # naive: UTC


@pytest.mark.parametrize(("query", "named"), [
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"), ({"status": "sleeping"}, "status"), ({"issue": "0", "repository": "o/r"}, "issue"),
    ({"issue": "3"}, "repository"), ({"repository": "not a repo"}, "repository"), ({"since": "yesterday"}, "since"),
    ({"until": "2025-13-01"}, "until"), ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"), ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "MjAyNS0wMS0wMVQwMDowMDowMCswMDowMHwiKSxzdGF0dXM"}, "cursor"),  # an id no work order may have
])
def test_a_bad_query_value_is_a_422_that_names_it(client: TestClient, query: dict[str, str], named: str) -> None:
    response = client.get(API, params=query)
    assert response.status_code == 422, response.text
    assert named in str(response.json()["detail"])
