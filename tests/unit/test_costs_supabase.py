"""The Supabase store reads costs per day from migration 013's function (PostgREST sums nothing), in pages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import respx

from bot.store import DailySpend
from bot.store.supabase import PAGE, SupabaseStore
from tests.unit.test_supabase_store import api, store  # noqa: F401 - the fixtures

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
FUNCTION = "/rpc/archon_agent_work_order_daily_spend"


def row(day: str, repo: str, cost: float, steps: int = 1, work_orders: int = 1) -> dict[str, object]:
    return {"day": day, "repo_full_name": repo, "cost_usd": cost, "steps": steps, "work_orders": work_orders}


async def test_the_days_come_from_the_function_with_the_range_and_repository(
    store: SupabaseStore, api: respx.MockRouter,  # noqa: F811
) -> None:
    route = api.post(FUNCTION).respond(200, json=[row("2026-11-30", "octo/a", 0.42, 3, 2)])
    assert await store.daily_spend(SINCE, UNTIL, "octo/a") == [DailySpend(date(2026, 11, 30), "octo/a", 0.42, 3, 2)]
    request = route.calls[0].request
    assert json.loads(request.content) == {"p_since": "2026-11-01T00:00:00+00:00",
                                           "p_until": "2026-12-01T00:00:00+00:00", "p_repo": "octo/a"}
    assert dict(request.url.params) == {"order": "day.desc,repo_full_name.asc", "offset": "0", "limit": str(PAGE)}


async def test_all_repositories_send_null_and_a_full_page_asks_for_the_next(
    store: SupabaseStore, api: respx.MockRouter,  # noqa: F811
) -> None:
    first = [row((date(2026, 11, 30) - timedelta(days=i % 30)).isoformat(), f"o/r{i}", 1.0) for i in range(PAGE)]
    route = api.post(FUNCTION).mock(side_effect=[respx.MockResponse(200, json=first),
                                                 respx.MockResponse(200, json=[row("2026-11-01", "o/z", 2.0)])])
    days = await store.daily_spend(SINCE, UNTIL)
    assert len(days) == PAGE + 1 and days[-1] == DailySpend(date(2026, 11, 1), "o/z", 2.0, 1, 1)
    assert json.loads(route.calls[0].request.content)["p_repo"] is None
    assert route.calls[1].request.url.params["offset"] == str(PAGE)


async def test_a_range_over_a_year_is_refused_before_any_request(store: SupabaseStore) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="366 days"):
        await store.daily_spend(SINCE, SINCE + timedelta(days=367))
