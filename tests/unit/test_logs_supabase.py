"""The Supabase store's work order log over PostgREST: the insert (no id sent: the database gives it), the page
after a cursor with filters, a foreign-key refusal as NotFound, and waiting by polling."""

from __future__ import annotations

import time

import httpx
import pytest
import respx

from bot.errors import NotFound
from bot.models import LogEntry
from bot.store.supabase import SupabaseStore
from tests.unit.test_supabase_store import api, body, params, store  # noqa: F401 - the fixtures

ROW = {"id": 41, "agent_work_order_id": "wo-1", "at": "2025-01-01T00:00:00+00:00", "level": "info",
       "step": "implement", "kind": "tool_use", "message": "Write hello.txt", "data": {"tool": "Write"}}
NO_WORK_ORDER = {"code": "23503", "details": "Key (agent_work_order_id)=(wo-x) is not present.", "hint": None,
                 "message": "insert or update on table violates foreign key constraint"}


async def test_an_entry_is_inserted_without_an_id_and_gets_the_databases(
        store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    route = api.post("/archon_agent_work_order_logs").respond(201, json=[ROW])
    stored = await store.append_log(LogEntry(agent_work_order_id="wo-1", kind="tool_use", step="implement",
                                             message="Write hello.txt", data={"tool": "Write"}))
    assert stored.id == 41
    sent = body(route)
    assert "id" not in sent and (sent["kind"], sent["data"]) == ("tool_use", {"tool": "Write"})


async def test_entries_are_listed_after_a_cursor_with_filters_and_a_range(
        store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    route = api.get("/archon_agent_work_order_logs").respond(200, json=[ROW])
    [entry] = await store.list_logs("wo-1", after=40, limit=10, offset=5, level="info", step="implement")
    assert (entry.id, entry.message, entry.data) == (41, "Write hello.txt", {"tool": "Write"})
    assert params(route) == {"select": "*", "agent_work_order_id": "eq.wo-1", "id": "gt.40", "level": "eq.info",
                             "step": "eq.implement", "order": "id.asc", "offset": "5", "limit": "10"}


async def test_an_entry_of_no_work_order_is_not_found(store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    api.post("/archon_agent_work_order_logs").respond(409, json=NO_WORK_ORDER)
    with pytest.raises(NotFound):
        await store.append_log(LogEntry(agent_work_order_id="wo-x"))


async def test_waiting_polls_until_an_entry_after_the_cursor_is_there(
        store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    answers = iter([[], [], [ROW]])
    route = api.get("/archon_agent_work_order_logs").mock(
        side_effect=lambda request: httpx.Response(200, json=next(answers)))
    started = time.monotonic()
    assert await store.wait_for_logs("wo-1", 40, timeout=5) is True
    assert route.call_count == 3 and 0.3 <= time.monotonic() - started < 2


async def test_entries_are_counted_by_postgrests_exact_count(store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    route = api.get("/archon_agent_work_order_logs").respond(200, json=[{"id": 41}],
                                                             headers={"Content-Range": "0-0/17"})
    assert await store.count_logs("wo-1", level="error") == 17
    assert params(route) == {"select": "id", "agent_work_order_id": "eq.wo-1", "level": "eq.error", "limit": "1"}
    assert "count=exact" in route.calls[0].request.headers["prefer"]
