"""The Supabase store speaks PostgREST: recorded exchanges (paths, filters, Prefer headers, RPC bodies)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from bot.errors import Conflict, LeaseLost, NotFound, StoreUnavailable
from bot.models import Delivery, Repository, Status, Step, WorkOrder
from bot.store import Cursor, ListFilter
from bot.store.supabase import SupabaseStore

PROJECT = "https://abcdefghijklmnop.supabase.co"
KEY = "sb_secret_service_role_key_for_tests"
REPO_ID = "6f1c2f0e-8a4b-4d1e-9a53-0c7e3b9f2a11"
WORK_ORDER_ROW: dict[str, Any] = {
    "agent_work_order_id": "wo-1", "repository_url": "https://github.com/octo/repo", "sandbox_identifier": "",
    "git_branch_name": None, "agent_session_id": None, "status": "running", "metadata": {"labels": ["bug"]},
    "created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:05.123456+00:00",
    "user_request": "fix the typo", "repo_full_name": "octo/repo", "issue_number": 7, "trigger_actor": "octocat",
    "trigger_comment_id": 2345678901, "delivery_id": "d-1", "lease_owner": "w1",
    "lease_expires_at": "2025-01-01T00:01:05.123456+00:00", "attempt": 1, "max_attempts": 3, "total_cost_usd": 0,
    "num_turns": 0, "progress_comment_id": None, "pr_url": None, "pr_number": None, "error_message": None,
    "started_at": "2025-01-01T00:00:05.123456+00:00", "completed_at": None,
}
REPOSITORY_ROW: dict[str, Any] = {
    "id": REPO_ID, "repository_url": "https://github.com/octo/repo", "display_name": "octo/repo", "owner": "octo",
    "default_branch": "main", "is_verified": False, "last_verified_at": None, "default_sandbox_type": "git_worktree",
    "default_commands": ["plan", "implement"], "created_at": "2025-01-01T00:00:00+00:00",
    "updated_at": "2025-01-01T00:00:00+00:00",
}
DUPLICATE = {
    "code": "23505", "details": "Key (repository_url)=(https://github.com/octo/repo) already exists.", "hint": None,
    "message": "duplicate key value violates unique constraint \"idx_configured_repositories_url\"",
}
NO_TABLE = {"code": "PGRST205", "details": None, "hint": None,
            "message": "Could not find the table 'public.archon_configured_repositories' in the schema cache"}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"{PROJECT}/rest/v1", assert_all_called=True) as router:
        yield router


@pytest.fixture
async def store() -> AsyncIterator[SupabaseStore]:
    backend = SupabaseStore(PROJECT, KEY, retry=False)
    await backend.open()
    yield backend
    await backend.close()


def body(route: respx.Route, call: int = 0) -> Any:
    return json.loads(route.calls[call].request.content)


def params(route: respx.Route, call: int = 0) -> dict[str, str]:
    return dict(route.calls[call].request.url.params)


# the queue: RPC


async def test_claim_calls_the_claim_function_with_the_service_key(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/rpc/archon_agent_work_order_claim_lease").respond(
        200, json=[{"work_order": WORK_ORDER_ROW, "reclaimed_from": None}])
    claimed = await store.claim("w1", 60)
    assert claimed is not None and (claimed.id, claimed.status, claimed.attempt) == ("wo-1", Status.RUNNING, 1)
    assert claimed.reclaimed_from is None
    assert body(route) == {"p_worker_id": "w1", "p_lease_seconds": 60.0}
    request = route.calls[0].request
    assert (request.headers["apikey"], request.headers["authorization"]) == (KEY, f"Bearer {KEY}")


async def test_claim_returns_nothing_when_no_work_order_is_runnable(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    api.post("/rpc/archon_agent_work_order_claim_lease").respond(200, json=[])
    assert await store.claim("w1", 60) is None


async def test_a_claim_that_took_over_an_expired_lease_says_whose(store: SupabaseStore, api: respx.MockRouter) -> None:
    api.post("/rpc/archon_agent_work_order_claim_lease").respond(
        200, json=[{"work_order": WORK_ORDER_ROW, "reclaimed_from": "w-crashed"}])
    claimed = await store.claim("w1", 60)
    assert claimed is not None and claimed.reclaimed_from == "w-crashed"


async def test_heartbeat_returns_what_the_function_answers(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/rpc/archon_agent_work_order_heartbeat").mock(
        side_effect=[httpx.Response(200, json=True), httpx.Response(200, json=False)])
    assert await store.heartbeat("wo-1", "w1", 30) is True
    assert await store.heartbeat("wo-1", "w2", 30) is False
    assert body(route, 1) == {"p_work_order_id": "wo-1", "p_worker_id": "w2", "p_lease_seconds": 30.0}


async def test_finish_sends_the_final_status_and_changes(store: SupabaseStore, api: respx.MockRouter) -> None:
    done = {**WORK_ORDER_ROW, "status": "completed", "lease_owner": None, "pr_number": 5}
    route = api.post("/rpc/archon_agent_work_order_finish").respond(200, json=[done])
    finished = await store.finish("wo-1", "w1", Status.COMPLETED,
                                  {"pr_number": 5, "started_at": datetime(2025, 1, 2, tzinfo=UTC)})
    assert (finished.status, finished.pr_number, finished.lease_owner) == (Status.COMPLETED, 5, None)
    assert body(route) == {"p_work_order_id": "wo-1", "p_worker_id": "w1", "p_status": "completed",
                           "p_changes": {"pr_number": 5, "started_at": "2025-01-02T00:00:00Z"}}


async def test_finish_by_another_worker_is_lease_lost(store: SupabaseStore, api: respx.MockRouter) -> None:
    api.post("/rpc/archon_agent_work_order_finish").respond(200, json=[])
    lookup = api.get("/archon_agent_work_orders").respond(200, json=[WORK_ORDER_ROW])
    with pytest.raises(LeaseLost):
        await store.finish("wo-1", "w2", Status.FAILED, {})
    assert params(lookup) == {"select": "*", "agent_work_order_id": "eq.wo-1"}


async def test_fail_exhausted_calls_its_function_without_arguments(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    failed = {**WORK_ORDER_ROW, "status": "failed", "error_message": "last allowed attempt (3)"}
    route = api.post("/rpc/archon_agent_work_order_fail_exhausted").respond(200, json=[failed])
    assert [w.status for w in await store.fail_exhausted()] == [Status.FAILED]
    assert body(route) == {}


async def test_the_outbox_and_release_call_their_functions(store: SupabaseStore, api: respx.MockRouter) -> None:
    pending = {**WORK_ORDER_ROW, "status": "completed", "report_pending": True,
               "updated_at": "2025-01-03T00:00:00+00:00"}
    listed = api.post("/rpc/archon_agent_work_order_pending_reports").respond(200, json=[pending])
    marked = api.post("/rpc/archon_agent_work_order_mark_reported").respond(200, json=True)
    released = api.post("/rpc/archon_agent_work_order_release").respond(200, json=False)
    [work_order] = await store.pending_reports(5)
    assert (work_order.id, work_order.report_pending, body(listed)) == ("wo-1", True, {"p_limit": 5})
    assert await store.mark_reported(work_order) is True
    assert body(marked) == {"p_work_order_id": "wo-1", "p_updated_at": "2025-01-03T00:00:00Z"}
    assert await store.release("wo-1", "w2") is False
    assert body(released) == {"p_work_order_id": "wo-1", "p_worker_id": "w2"}


# tables


async def test_a_delivery_is_inserted_ignoring_duplicates(store: SupabaseStore, api: respx.MockRouter) -> None:
    row = {"delivery_id": "d-1", "event": "issues", "action": "opened", "repo_full_name": "octo/repo",
           "payload": {"n": 1}, "outcome": None, "received_at": "2025-01-01T00:00:00+00:00", "processed_at": None}
    route = api.post("/archon_agent_work_order_deliveries").mock(
        side_effect=[httpx.Response(201, json=[row]), httpx.Response(201, json=[])])
    delivery = Delivery(delivery_id="d-1", event="issues", action="opened", repo_full_name="octo/repo",
                        payload={"n": 1}, received_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert await store.record_delivery(delivery) is True
    assert await store.record_delivery(delivery) is False
    request = route.calls[0].request
    assert request.url.params["on_conflict"] == "delivery_id"
    assert set(request.headers["prefer"].split(",")) == {"return=representation", "resolution=ignore-duplicates"}
    assert body(route) == {"delivery_id": "d-1", "event": "issues", "action": "opened",
                           "repo_full_name": "octo/repo", "payload": {"n": 1}, "received_at": "2025-01-01T00:00:00Z"}


async def test_a_delivery_decided_on_receipt_is_inserted_with_its_outcome(
    store: SupabaseStore, api: respx.MockRouter,
) -> None:
    route = api.post("/archon_agent_work_order_deliveries").mock(return_value=httpx.Response(201, json=[{}]))
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    delivery = Delivery(delivery_id="d-2", event="ping", payload={"zen": "z"}, raw='{"zen": "z"}',
                        outcome="ignored: ping", received_at=moment, processed_at=moment)
    assert await store.record_delivery(delivery) is True
    sent = body(route)
    assert (sent["outcome"], sent["processed_at"], sent["payload"]) == ("ignored: ping", "2025-01-01T00:00:00Z",
                                                                          {"zen": "z"})
    assert "raw" not in sent


async def test_unprocessed_deliveries_and_marking_one(store: SupabaseStore, api: respx.MockRouter) -> None:
    listing = api.get("/archon_agent_work_order_deliveries").respond(200, json=[])
    marking = api.patch("/archon_agent_work_order_deliveries").respond(200, json=[])
    assert await store.unprocessed_deliveries(limit=10) == []
    await store.mark_delivery("d-1", "ignored: not a trigger")
    assert params(listing) == {"select": "*", "processed_at": "is.null", "order": "received_at.asc", "limit": "10"}
    assert params(marking) == {"delivery_id": "eq.d-1"}
    assert body(marking)["outcome"] == "ignored: not a trigger"


async def test_old_deliveries_are_pruned_with_a_count_and_no_rows_sent_back(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    route = api.delete("/archon_agent_work_order_deliveries").respond(
        204, headers={"content-range": "*/3"})
    assert await store.prune_deliveries(datetime(2025, 1, 1, tzinfo=UTC)) == 3
    request = route.calls[0].request
    assert params(route) == {"received_at": "lt.2025-01-01T00:00:00+00:00"}
    assert set(request.headers["prefer"].split(",")) == {"return=minimal", "count=exact"}


async def test_deliveries_are_listed_without_payload_and_read_one_by_one(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    row = {"delivery_id": "d-1", "event": "issues", "action": "opened", "repo_full_name": "octo/repo",
           "outcome": "failed: KeyError: 'x'", "received_at": "2025-01-01T00:00:00+00:00",
           "processed_at": "2025-01-01T00:00:01+00:00"}
    route = api.get("/archon_agent_work_order_deliveries").mock(side_effect=[
        httpx.Response(200, json=[row]), httpx.Response(200, json=[{**row, "payload": {"a": 1}}]),
        httpx.Response(200, json=[]), httpx.Response(200, json=[])])
    [listed] = await store.list_deliveries(limit=5, outcome="failed")
    assert (listed.delivery_id, listed.outcome, listed.payload) == ("d-1", "failed: KeyError: 'x'", {})
    assert params(route) == {"select": "delivery_id,event,action,repo_full_name,outcome,received_at,processed_at",
                             "outcome": "like.failed*", "order": "received_at.desc,delivery_id.asc", "limit": "5"}
    assert (await store.get_delivery("d-1")).payload == {"a": 1}
    assert params(route, 1) == {"select": "*", "delivery_id": "eq.d-1"}
    with pytest.raises(NotFound):
        await store.get_delivery("d-2")
    assert await store.list_deliveries(limit=5, offset=10) == []
    assert params(route, 3)["offset"] == "10" and params(route, 3)["limit"] == "5"


async def test_a_work_order_is_read_by_its_id(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.get("/archon_agent_work_orders").mock(
        side_effect=[httpx.Response(200, json=[WORK_ORDER_ROW]), httpx.Response(200, json=[])])
    work_order = await store.get_work_order("wo-1")
    assert (work_order.trigger_comment_id, work_order.metadata) == (2345678901, {"labels": ["bug"]})
    assert params(route) == {"select": "*", "agent_work_order_id": "eq.wo-1"}
    with pytest.raises(NotFound):
        await store.get_work_order("wo-2")


async def test_work_orders_are_listed_by_status_newest_first(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.get("/archon_agent_work_orders").respond(200, json=[WORK_ORDER_ROW])
    assert [w.id for w in await store.list_work_orders(Status.RUNNING, limit=5)] == ["wo-1"]
    assert params(route) == {"select": "*", "status": "eq.running",
                             "order": "created_at.desc,agent_work_order_id.desc", "limit": "5"}


async def test_work_orders_are_listed_with_filters_a_cursor_and_an_offset(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    route = api.get("/archon_agent_work_orders").respond(200, json=[WORK_ORDER_ROW])
    at = datetime(2025, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    where = ListFilter(repo_full_name="octo/repo", issue_number=7, since=at, until=at + timedelta(days=1))
    await store.list_work_orders(Status.PENDING, 10, where=where, cursor=Cursor(at, "wo-9"), offset=20)
    assert route.calls[0].request.url.params.get_list("created_at") == [
        "gte.2025-01-02T03:04:05.006000+00:00", "lt.2025-01-03T03:04:05.006000+00:00"]
    assert params(route) == {
        "select": "*", "status": "eq.pending", "repo_full_name": "eq.octo/repo", "issue_number": "eq.7",
        "created_at": "gte.2025-01-02T03:04:05.006000+00:00",  # (dict keeps the first of the two)
        "or": '(created_at.lt."2025-01-02T03:04:05.006000+00:00",'
              'and(created_at.eq."2025-01-02T03:04:05.006000+00:00",agent_work_order_id.lt."wo-9"))',
        "order": "created_at.desc,agent_work_order_id.desc", "limit": "10", "offset": "20"}


async def test_a_work_order_is_created_with_every_column(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/archon_agent_work_orders").respond(201, json=[{**WORK_ORDER_ROW, "status": "pending"}])
    await store.create_work_order(WorkOrder(agent_work_order_id="wo-1", repository_url="https://github.com/octo/repo"))
    sent = body(route)
    assert (sent["agent_work_order_id"], sent["status"], sent["metadata"]) == ("wo-1", "pending", {})
    assert route.calls[0].request.headers["prefer"] == "return=representation"


async def test_an_update_with_owner_is_filtered_on_the_lease(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.patch("/archon_agent_work_orders").respond(200, json=[{**WORK_ORDER_ROW, "num_turns": 4}])
    updated = await store.update_work_order("wo-1", {"num_turns": 4}, owner="w1")
    assert updated.num_turns == 4
    assert params(route) == {"agent_work_order_id": "eq.wo-1", "lease_owner": "eq.w1", "status": "eq.running"}
    assert body(route)["num_turns"] == 4 and "updated_at" in body(route)


async def test_steps_are_added_and_listed_in_order(store: SupabaseStore, api: respx.MockRouter) -> None:
    adding = api.post("/archon_agent_work_order_steps").respond(201, json=[])
    listing = api.get("/archon_agent_work_order_steps").respond(200, json=[])
    await store.add_step(Step(agent_work_order_id="wo-1", step="plan", agent_name="claude", success=True,
                              executed_at=datetime(2025, 1, 1, tzinfo=UTC), cost_usd=0.5))
    assert await store.list_steps("wo-1") == []
    assert body(adding)["executed_at"] == "2025-01-01T00:00:00Z" and body(adding)["cost_usd"] == 0.5
    assert params(listing) == {"select": "*", "agent_work_order_id": "eq.wo-1",
                               "order": "step_order.asc,executed_at.asc"}


async def test_a_repository_gets_its_id_from_the_database(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/archon_configured_repositories").respond(201, json=[REPOSITORY_ROW])
    added = await store.add_repository(Repository(repository_url="https://github.com/octo/repo"))
    assert added.id == REPO_ID
    assert "id" not in body(route)


async def test_a_duplicate_repository_is_a_conflict(store: SupabaseStore, api: respx.MockRouter) -> None:
    api.post("/archon_configured_repositories").respond(409, json=DUPLICATE)
    with pytest.raises(Conflict, match="already exists"):
        await store.add_repository(Repository(repository_url="https://github.com/octo/repo"))


async def test_repositories_are_changed_and_deleted_by_id(store: SupabaseStore, api: respx.MockRouter) -> None:
    changing = api.patch("/archon_configured_repositories").respond(200, json=[REPOSITORY_ROW])
    deleting = api.delete("/archon_configured_repositories").respond(200, json=[])
    await store.update_repository(REPO_ID, {"default_branch": "main"})
    with pytest.raises(NotFound):
        await store.delete_repository(REPO_ID)
    assert params(changing) == params(deleting) == {"id": f"eq.{REPO_ID}"}


async def test_an_id_that_is_not_a_uuid_is_not_found_without_asking(store: SupabaseStore) -> None:
    with respx.mock(assert_all_mocked=True):
        with pytest.raises(NotFound):
            await store.get_repository("not-a-uuid")


# failures


async def test_missing_tables_mean_migrations_are_missing(store: SupabaseStore, api: respx.MockRouter) -> None:
    api.get("/archon_configured_repositories").respond(404, json=NO_TABLE)
    health = await store.health()
    assert (health.status, health.tables_exist) == ("healthy", False)
    assert health.hint and "awo migrate" in health.hint
    with pytest.raises(StoreUnavailable, match="awo migrate"):
        await store.list_repositories()


async def test_an_unreachable_project_is_unavailable_and_unhealthy(
    store: SupabaseStore, api: respx.MockRouter
) -> None:
    api.route().mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(StoreUnavailable):
        await store.claim("w1", 60)
    health = await store.health()
    assert (health.status, health.tables_exist) == ("unhealthy", False)


async def test_all_tables_present_is_healthy(store: SupabaseStore, api: respx.MockRouter) -> None:
    tables = ("archon_configured_repositories", "archon_agent_work_orders", "archon_agent_work_order_steps",
              "archon_agent_work_order_deliveries")
    routes = [api.get(f"/{table}").respond(200, json=[]) for table in tables]
    health = await store.health()
    assert (health.status, health.tables_exist, health.hint) == ("healthy", True, None)
    assert all(params(route) == {"select": "*", "limit": "1"} for route in routes)


# admission: RPC


async def test_admission_load_calls_its_function_once(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/rpc/archon_agent_work_order_admission_load").respond(
        200, json=[{"issue_active": 3, "actor_recent": 4, "repo_recent": 5, "pending": 6}])
    since = datetime(2025, 1, 1, tzinfo=UTC)
    load = await store.admission_load("octo/repo", 7, "octocat", since)
    assert (load.issue_active, load.actor_recent, load.repo_recent, load.pending) == (3, 4, 5, 6)
    assert body(route) == {"p_repo_full_name": "octo/repo", "p_issue_number": 7, "p_actor": "octocat",
                           "p_since": "2025-01-01T00:00:00+00:00"}


async def test_note_refusal_returns_what_the_function_answers(store: SupabaseStore, api: respx.MockRouter) -> None:
    route = api.post("/rpc/archon_agent_work_order_note_refusal").mock(
        side_effect=[httpx.Response(200, json=True), httpx.Response(200, json=False)])
    assert await store.note_refusal("octo/repo", 7, 600) is True
    assert await store.note_refusal("octo/repo", 7, 600) is False
    assert body(route) == {"p_repo_full_name": "octo/repo", "p_issue_number": 7, "p_window_seconds": 600.0}


async def test_a_replayed_trigger_is_a_conflict(store: SupabaseStore, api: respx.MockRouter) -> None:
    duplicate = {"code": "23505", "details": "Key (trigger_key)=(octo/repo:comment:1) already exists.",
                 "hint": None, "message": "duplicate key value violates unique constraint"}
    api.post("/archon_agent_work_orders").respond(409, json=duplicate)
    with pytest.raises(Conflict, match="trigger_key"):
        await store.create_work_order(WorkOrder(repository_url="https://github.com/octo/repo", trigger_key="k"))


async def test_stop_and_retry_call_their_functions(store: SupabaseStore, api: respx.MockRouter) -> None:
    cancel = api.post("/rpc/archon_agent_work_order_cancel").respond(200, json=[WORK_ORDER_ROW])
    asked = api.post("/rpc/archon_agent_work_order_cancel_requests").respond(200, json=["wo-1"])
    retry = api.post("/rpc/archon_agent_work_order_retry").respond(200, json=[{**WORK_ORDER_ROW, "status": "pending"}])
    assert (await store.cancel_work_order("wo-1")).status is Status.RUNNING
    assert await store.cancel_requests(["wo-1", "wo-2"]) == ["wo-1"]
    assert (await store.retry_work_order("wo-1", 3)).status is Status.PENDING
    assert body(cancel) == {"p_work_order_id": "wo-1"}
    assert body(asked) == {"p_work_order_ids": ["wo-1", "wo-2"]}
    assert body(retry) == {"p_work_order_id": "wo-1", "p_attempts": 3}


async def test_cancelling_an_ended_work_order_is_a_conflict(store: SupabaseStore, api: respx.MockRouter) -> None:
    api.post("/rpc/archon_agent_work_order_cancel").respond(200, json=[])
    api.get("/archon_agent_work_orders").respond(200, json=[{**WORK_ORDER_ROW, "status": "completed"}])
    with pytest.raises(Conflict, match="completed: only a pending or running one"):
        await store.cancel_work_order("wo-1")
