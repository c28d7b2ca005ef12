"""The Supabase store asks the ledger's sum of the function migration 010 defines (the ledger itself is written
by that migration's trigger on steps, in the database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import respx

from bot.store.supabase import SupabaseStore
from tests.unit.test_supabase_store import api, store  # noqa: F401 - the fixtures

SINCE = datetime(2026, 11, 29, tzinfo=UTC)


async def test_spent_since_calls_the_ledger_function(store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    route = api.post("/rpc/archon_agent_work_order_spent_since").respond(200, json=12.4)
    assert await store.spent_since("octo/repo", SINCE) == 12.4
    assert json.loads(route.calls[0].request.content) == {"p_repo_full_name": "octo/repo",
                                                          "p_since": "2026-11-29T00:00:00+00:00"}


async def test_spent_since_for_all_repositories_sends_null(store: SupabaseStore, api: respx.MockRouter) -> None:  # noqa: F811
    route = api.post("/rpc/archon_agent_work_order_spent_since").respond(200, json=0)
    assert await store.spent_since(None, SINCE) == 0.0
    assert json.loads(route.calls[0].request.content)["p_repo_full_name"] is None
