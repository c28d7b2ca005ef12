"""One contract, every backend: what the bot may rely on from any Store (SQLite file, memory, Postgres)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.errors import Conflict, LeaseLost, NotFound
from bot.metrics import Metrics
from bot.models import Delivery, Repository, Status, Step, WorkOrder
from bot.store import Store

from .conftest import open_backend

BASE = datetime(2025, 1, 1, tzinfo=UTC)
URL = "https://github.com/octo/repo"


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    """Each backend, empty and open."""
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        yield backend


def order(n: int, issue: int | None = None, **fields: Any) -> WorkOrder:
    """Work order n, created n seconds after BASE (so FIFO order is known)."""
    values: dict[str, Any] = {
        "agent_work_order_id": f"wo-{n:04d}", "repository_url": URL, "repo_full_name": "octo/repo",
        "issue_number": n if issue is None else issue, "created_at": BASE + timedelta(seconds=n),
        "updated_at": BASE + timedelta(seconds=n),
    }
    return WorkOrder(**{**values, **fields})


async def create(store: Store, *orders: WorkOrder) -> None:
    for work_order in orders:
        await store.create_work_order(work_order)


async def expire_leases() -> None:
    """Leases taken with 0 seconds are expired once any time has passed."""
    await asyncio.sleep(0.01)


# health and deliveries


async def test_health_reports_a_ready_store(store: Store) -> None:
    health = await store.health()
    assert (health.status, health.tables_exist) == ("healthy", True)


async def test_a_delivery_is_recorded_once(store: Store) -> None:
    delivery = Delivery(delivery_id="d-1", event="issue_comment", action="created", payload={"a": [1, 2]})
    assert await store.record_delivery(delivery) is True
    assert await store.record_delivery(delivery) is False
    [stored] = await store.unprocessed_deliveries()
    assert (stored.delivery_id, stored.event, stored.action, stored.payload) == ("d-1", "issue_comment", "created",
                                                                                  {"a": [1, 2]})


async def test_deliveries_arriving_together_are_each_recorded_once_and_each_told(store: Store) -> None:
    """The stores write deliveries asked for in one turn of the loop together; each caller still learns
    whether its own was new, a redelivery inside the same batch included, and every body is kept."""
    ids = ["a", "b", "a", "c", "b", "d"]
    told = await asyncio.gather(*(
        store.record_delivery(Delivery(delivery_id=i, event="issues", payload={"n": n}, raw=f'{{"n": {n}}}'))
        for n, i in enumerate(ids)))
    assert told == [True, True, False, True, False, True]
    assert sorted(d.delivery_id for d in await store.list_deliveries()) == ["a", "b", "c", "d"]
    assert (await store.get_delivery("c")).payload == {"n": 3}
    assert await store.record_delivery(Delivery(delivery_id="c", event="issues")) is False


async def test_unprocessed_deliveries_come_oldest_first_until_marked(store: Store) -> None:
    for n in (3, 1, 2):
        await store.record_delivery(Delivery(delivery_id=f"d-{n}", event="issues", received_at=BASE + timedelta(n)))
    assert [d.delivery_id for d in await store.unprocessed_deliveries()] == ["d-1", "d-2", "d-3"]
    assert [d.delivery_id for d in await store.unprocessed_deliveries(limit=2)] == ["d-1", "d-2"]
    await store.mark_delivery("d-1", "work order wo-1")
    assert [d.delivery_id for d in await store.unprocessed_deliveries()] == ["d-2", "d-3"]


async def test_deliveries_are_listed_newest_first_without_payload_and_filtered_by_outcome(store: Store) -> None:
    for n in (1, 2, 3):
        await store.record_delivery(Delivery(delivery_id=f"d-{n}", event="issues", payload={"n": n},
                                             received_at=BASE + timedelta(n)))
    await store.mark_delivery("d-1", "failed: KeyError: 'x'")
    await store.mark_delivery("d-2", "queued wo-1")
    listed = await store.list_deliveries()
    assert [d.delivery_id for d in listed] == ["d-3", "d-2", "d-1"] and all(d.payload == {} for d in listed)
    assert [d.delivery_id for d in await store.list_deliveries(limit=1)] == ["d-3"]
    assert [d.delivery_id for d in await store.list_deliveries(limit=1, offset=1)] == ["d-2"]
    assert await store.list_deliveries(offset=3) == []
    [failed] = await store.list_deliveries(outcome="failed")
    assert (failed.delivery_id, failed.outcome) == ("d-1", "failed: KeyError: 'x'") and failed.processed_at
    assert await store.list_deliveries(outcome="fail%") == []


async def test_one_delivery_is_read_with_its_payload(store: Store) -> None:
    await store.record_delivery(Delivery(delivery_id="d-1", event="issues", action="opened", payload={"a": 1}))
    got = await store.get_delivery("d-1")
    assert (got.event, got.action, got.payload, got.outcome) == ("issues", "opened", {"a": 1}, None)
    with pytest.raises(NotFound):
        await store.get_delivery("missing")


async def test_deliveries_received_before_a_time_are_pruned_and_later_ones_kept(store: Store) -> None:
    for day, name in ((1, "old"), (10, "edge"), (20, "recent")):
        await store.record_delivery(Delivery(delivery_id=name, event="ping", received_at=BASE + timedelta(days=day)))
    assert await store.prune_deliveries(BASE + timedelta(days=10)) == 1
    assert sorted(d.delivery_id for d in await store.list_deliveries()) == ["edge", "recent"]
    assert await store.prune_deliveries(BASE + timedelta(days=10)) == 0


# repositories


async def test_repositories_are_added_listed_changed_and_deleted(store: Store) -> None:
    added = await store.add_repository(Repository(repository_url=URL, display_name="octo/repo", owner="octo"))
    other = await store.add_repository(Repository(repository_url="https://github.com/octo/other"))
    assert added.id and uuid.UUID(added.id)
    assert [r.repository_url for r in await store.list_repositories()] == [URL, other.repository_url]
    assert (await store.get_repository(added.id)).display_name == "octo/repo"
    changed = await store.update_repository(added.id, {"default_branch": "dev", "default_commands": ["plan"]})
    assert (changed.default_branch, changed.default_commands) == ("dev", ["plan"])
    assert (await store.get_repository(added.id)).default_commands == ["plan"]
    await store.delete_repository(added.id)
    assert [r.id for r in await store.list_repositories()] == [other.id]


async def test_a_repository_url_is_configured_once(store: Store) -> None:
    await store.add_repository(Repository(repository_url=URL))
    with pytest.raises(Conflict):
        await store.add_repository(Repository(repository_url=URL))


@pytest.mark.parametrize("repo_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_an_unknown_repository_is_not_found(store: Store, repo_id: str) -> None:
    with pytest.raises(NotFound):
        await store.get_repository(repo_id)
    with pytest.raises(NotFound):
        await store.update_repository(repo_id, {"default_branch": "main"})
    with pytest.raises(NotFound):
        await store.delete_repository(repo_id)


# work orders


async def test_a_work_order_reads_back_as_written(store: Store) -> None:
    written = order(1, trigger_actor="octocat", trigger_comment_id=2**40, progress_comment_id=2**41,
                    user_request="fix it", metadata={"labels": ["bug"], "n": 1}, total_cost_usd=0.25)
    await store.create_work_order(written)
    assert (await store.get_work_order(written.id)).model_dump() == written.model_dump()
    with pytest.raises(NotFound):
        await store.get_work_order("wo-missing")


async def test_work_orders_are_listed_newest_first_and_by_status(store: Store) -> None:
    await create(store, order(1), order(2), order(3, status=Status.COMPLETED))
    assert [w.id for w in await store.list_work_orders()] == ["wo-0003", "wo-0002", "wo-0001"]
    assert [w.id for w in await store.list_work_orders(limit=1)] == ["wo-0003"]
    assert [w.id for w in await store.list_work_orders(Status.PENDING)] == ["wo-0002", "wo-0001"]
    assert [w.id for w in await store.list_work_orders(Status.CANCELLED)] == []


async def test_a_work_order_is_updated_column_by_column(store: Store) -> None:
    await create(store, order(1))
    updated = await store.update_work_order("wo-0001", {"status": Status.CANCELLED, "metadata": {"why": "asked"}})
    assert (updated.status, updated.metadata) == (Status.CANCELLED, {"why": "asked"})
    assert (await store.get_work_order("wo-0001")).status == Status.CANCELLED
    with pytest.raises(ValueError, match="agent_work_order_id"):
        await store.update_work_order("wo-0001", {"agent_work_order_id": "wo-other"})
    with pytest.raises(NotFound):
        await store.update_work_order("wo-missing", {"pr_url": "x"})


# the queue


async def test_claim_takes_the_oldest_runnable_work_order_first(store: Store) -> None:
    assert await store.claim("w1", 60) is None
    await create(store, order(3), order(1), order(2, status=Status.COMPLETED))
    first = await store.claim("w1", 60)
    assert first is not None
    assert (first.id, first.status, first.lease_owner, first.attempt) == ("wo-0001", Status.RUNNING, "w1", 1)
    assert first.started_at is not None and first.lease_expires_at is not None
    second = await store.claim("w2", 60)
    assert second is not None and second.id == "wo-0003"
    assert await store.claim("w3", 60) is None


async def test_one_issue_runs_one_work_order_at_a_time_in_order(store: Store) -> None:
    await create(store, order(1, issue=7), order(2, issue=7), order(3, issue=8))
    first, other = await store.claim("w1", 60), await store.claim("w2", 60)
    assert (first and first.id, other and other.id) == ("wo-0001", "wo-0003")
    assert await store.claim("w3", 60) is None
    await store.finish("wo-0001", "w1", Status.COMPLETED, {})
    queued = await store.claim("w3", 60)
    assert queued is not None and queued.id == "wo-0002"


async def test_an_expired_lease_is_claimed_again_with_the_next_attempt(store: Store) -> None:
    await create(store, order(1, issue=7), order(2, issue=7))
    await store.claim("w1", 0)
    await expire_leases()
    again = await store.claim("w2", 60)
    assert again is not None
    assert (again.id, again.lease_owner, again.attempt) == ("wo-0001", "w2", 2)
    assert await store.claim("w3", 60) is None


def reclaims(*claims: WorkOrder | None) -> float:
    """awo_lease_reclaims_total after a worker counted these claims."""
    metrics = Metrics()
    for claimed in claims:
        assert claimed is not None
        metrics.claimed(claimed)
    return metrics.registry.get_sample_value("awo_lease_reclaims_total") or 0.0


async def test_a_claim_says_whose_expired_lease_it_took_over_and_a_fresh_claim_does_not(store: Store) -> None:
    await create(store, order(1, issue=7))
    fresh = await store.claim("w1", 0)
    assert fresh is not None and fresh.reclaimed_from is None
    assert reclaims(fresh) == 0
    await expire_leases()
    taken = await store.claim("w2", 60)
    assert taken is not None and (taken.id, taken.attempt, taken.reclaimed_from) == ("wo-0001", 2, "w1")
    assert reclaims(fresh, taken) == 1
    assert (await store.get_work_order("wo-0001")).reclaimed_from is None  # the claim's news, not a column


async def test_a_released_or_retried_work_order_claimed_again_is_no_reclaim(store: Store) -> None:
    await create(store, order(1, issue=7))
    first = await store.claim("w1", 60)
    assert await store.release("wo-0001", "w1")
    after_release = await store.claim("w2", 60)
    assert after_release is not None and after_release.reclaimed_from is None
    await store.finish("wo-0001", "w2", Status.FAILED, {})
    await store.retry_work_order("wo-0001", 1)
    after_retry = await store.claim("w3", 60)
    assert after_retry is not None and (after_retry.attempt, after_retry.reclaimed_from) == (3, None)
    assert reclaims(first, after_release, after_retry) == 0


async def test_a_released_work_order_goes_back_to_the_queue_without_using_up_an_attempt(store: Store) -> None:
    """Three graceful restarts during one work order must not use up its three attempts (issue 7)."""
    await create(store, order(1, issue=7, max_attempts=3))
    for run, worker in enumerate(("w1", "w2", "w3", "w4"), 1):
        claimed = await store.claim(worker, 60)
        assert claimed is not None and claimed.attempt == run, f"{worker} claimed {claimed}"
        assert await store.release("wo-0001", "someone-else") is False
        assert await store.release("wo-0001", worker) is True
        released = await store.get_work_order("wo-0001")
        assert (released.status, released.lease_owner) == (Status.PENDING, None)
        assert released.max_attempts - released.attempt == 3, "a release counted as a failed attempt"
    last = await store.claim("w5", 60)
    assert last is not None and (last.id, last.attempt) == ("wo-0001", 5)
    await store.finish("wo-0001", "w5", Status.COMPLETED, {})
    assert await store.release("wo-0001", "w5") is False
    assert (await store.get_work_order("wo-0001")).status is Status.COMPLETED


async def test_wait_for_work_without_a_notification_waits_its_timeout(store: Store) -> None:
    """An idle worker must sleep between claims, not busy-poll the store."""
    started = asyncio.get_running_loop().time()
    await store.wait_for_work(0.3)
    assert asyncio.get_running_loop().time() - started >= 0.25


async def test_only_the_lease_owner_heartbeats(store: Store) -> None:
    await create(store, order(1))
    await store.claim("w1", 1)
    assert await store.heartbeat("wo-0001", "w2", 60) is False
    assert await store.heartbeat("wo-0001", "w1", 60) is True
    renewed = await store.get_work_order("wo-0001")
    assert renewed.lease_expires_at is not None
    assert renewed.lease_expires_at > datetime.now(UTC) + timedelta(seconds=30)


async def test_only_the_lease_owner_updates_with_owner(store: Store) -> None:
    await create(store, order(1))
    await store.claim("w1", 60)
    assert (await store.update_work_order("wo-0001", {"num_turns": 3}, owner="w1")).num_turns == 3
    with pytest.raises(LeaseLost):
        await store.update_work_order("wo-0001", {"num_turns": 4}, owner="w2")
    with pytest.raises(NotFound):
        await store.update_work_order("wo-missing", {"num_turns": 4}, owner="w1")
    assert (await store.get_work_order("wo-0001")).num_turns == 3


async def test_finish_ends_the_work_order_for_its_owner_only(store: Store) -> None:
    await create(store, order(1))
    await store.claim("w1", 60)
    with pytest.raises(LeaseLost):
        await store.finish("wo-0001", "w2", Status.COMPLETED, {})
    done = await store.finish("wo-0001", "w1", Status.COMPLETED,
                              {"pr_url": "https://github.com/octo/repo/pull/5", "pr_number": 5,
                               "total_cost_usd": 1.5, "metadata": {"answer": "done"}})
    assert (done.status, done.pr_number, done.total_cost_usd, done.metadata) == (
        Status.COMPLETED, 5, 1.5, {"answer": "done"})
    assert (done.lease_owner, done.lease_expires_at) == (None, None)
    assert done.completed_at is not None
    assert (await store.get_work_order("wo-0001")).model_dump() == done.model_dump()
    with pytest.raises(LeaseLost):
        await store.finish("wo-0001", "w1", Status.FAILED, {})
    with pytest.raises(NotFound):
        await store.finish("wo-missing", "w1", Status.FAILED, {})


async def test_a_work_order_fails_when_its_last_attempt_stops_answering(store: Store) -> None:
    await create(store, order(1), order(2, max_attempts=2))
    await store.claim("w1", 60)  # wo-0001, healthy
    await store.claim("w1", 0)  # wo-0002, attempt 1
    await expire_leases()
    assert await store.fail_exhausted() == []
    again = await store.claim("w2", 0)
    assert again is not None and (again.id, again.attempt) == ("wo-0002", 2)
    await expire_leases()
    assert await store.claim("w3", 60) is None
    [failed] = await store.fail_exhausted()
    assert (failed.id, failed.status, failed.lease_owner) == ("wo-0002", Status.FAILED, None)
    assert failed.error_message and "last allowed attempt (2)" in failed.error_message
    assert failed.report_pending is True
    assert await store.fail_exhausted() == []
    assert (await store.get_work_order("wo-0001")).status == Status.RUNNING


async def test_a_graceful_release_gives_the_attempt_back(store: Store) -> None:
    await create(store, order(1, issue=7), order(2, issue=7))
    for run in range(1, 6):  # more releases than attempts: a restart is not the work order's fault
        claimed = await store.claim("w1", 60)
        assert claimed is not None and (claimed.id, claimed.attempt) == ("wo-0001", run)
        assert await store.release("wo-0001", "w2") is False
        assert await store.release("wo-0001", "w1") is True
        released = await store.get_work_order("wo-0001")
        assert (released.status, released.lease_owner) == (Status.PENDING, None)
        assert released.max_attempts - released.attempt == 3  # all three real attempts still left
        assert await store.fail_exhausted() == []
    assert await store.release("wo-0001", "w1") is False  # not running: nothing to release


async def test_a_pending_work_order_with_no_attempt_left_fails_and_frees_its_issue(store: Store) -> None:
    """Released at 3/3 by an older worker: never claimable, so it must fail (and be reported), not wedge."""
    await create(store, order(1, issue=7, attempt=3, max_attempts=3), order(2, issue=7))
    assert await store.claim("w1", 60) is None  # the issue is blocked behind it
    [failed] = await store.fail_exhausted()
    assert (failed.id, failed.status, failed.report_pending) == ("wo-0001", Status.FAILED, True)
    assert failed.error_message and "last allowed attempt (3)" in failed.error_message
    nxt = await store.claim("w1", 60)
    assert nxt is not None and nxt.id == "wo-0002"


async def test_the_report_outbox_holds_ended_work_orders_until_marked(store: Store) -> None:
    await create(store, order(1), order(2), order(3))
    for _ in range(3):
        await store.claim("w1", 60)
    await store.finish("wo-0001", "w1", Status.COMPLETED, {"report_pending": True})
    await store.finish("wo-0002", "w1", Status.FAILED, {"report_pending": False})
    [pending] = await store.pending_reports()
    assert (pending.id, pending.report_pending) == ("wo-0001", True)
    changed = await store.update_work_order("wo-0001", {"num_turns": 9})
    assert await store.mark_reported(pending) is False  # the row changed since: its newer state is reported
    assert [w.id for w in await store.pending_reports()] == ["wo-0001"]
    assert await store.mark_reported(changed) is True
    assert await store.pending_reports() == []
    assert (await store.get_work_order("wo-0001")).report_pending is False


async def test_every_work_order_ends_whatever_happens_to_it(store: Store) -> None:
    """The invariant: from any mix of claim, release, lease expiry, exhaustion, finish and a later cancel,
    workers that keep dying (the worst case) still end every work order, and each ended by exhaustion is
    in the report outbox."""
    rng = random.Random(7)
    orders = [order(n, issue=1 + n % 3, max_attempts=3) for n in range(1, 13)]
    await create(store, *orders)
    for step in range(120):
        await _random_transition(store, rng, f"w{step % 4}")
    for _ in range(20):  # the drain: every worker dies holding its lease
        await store.fail_exhausted()
        while await store.claim("dying", 0) is not None:
            pass
        await expire_leases()
        active = [w for w in await store.list_work_orders() if w.status.is_active]
        if not active:
            break
    ended = await store.list_work_orders()
    assert [w.id for w in ended if w.status.is_active] == []
    for work_order in ended:
        if work_order.error_message and "last allowed attempt" in work_order.error_message:
            assert work_order.report_pending is True


async def _random_transition(store: Store, rng: random.Random, worker: str) -> None:
    action = rng.choice(["claim", "claim-expiring", "release", "hand-back", "finish", "fail", "cancel", "exhaust"])
    running = [w for w in await store.list_work_orders(Status.RUNNING)]
    target = rng.choice(running) if running else None
    if action == "claim":
        await store.claim(worker, 60)
    elif action == "claim-expiring":
        await store.claim(worker, 0)
        await expire_leases()
    elif action == "exhaust":
        await store.fail_exhausted()
    elif target is not None and target.lease_owner is not None:
        if action == "release":
            await store.release(target.id, target.lease_owner)
        elif action == "hand-back":  # how a worker of before migration 008 released: the attempt stays used
            await store.update_work_order(target.id, {"status": Status.PENDING, "lease_owner": None,
                                                      "lease_expires_at": None}, owner=target.lease_owner)
        elif action == "cancel":
            await store.update_work_order(target.id, {"status": Status.CANCELLED, "report_pending": True})
        else:
            status = Status.COMPLETED if action == "finish" else Status.FAILED
            with contextlib.suppress(LeaseLost):
                await store.finish(target.id, target.lease_owner, status, {})


# steps


async def test_steps_are_listed_in_step_order(store: Store) -> None:
    await create(store, order(1))
    for n, name in [(2, "report"), (0, "plan"), (1, "implement")]:
        await store.add_step(Step(agent_work_order_id="wo-0001", step=name, agent_name="claude", success=n != 1,
                                  step_order=n, cost_usd=0.1 * n, num_turns=n, attempt=1))
    steps = await store.list_steps("wo-0001")
    assert [(s.step, s.success, s.num_turns) for s in steps] == [("plan", True, 0), ("implement", False, 1),
                                                                  ("report", True, 2)]
    assert await store.list_steps("wo-missing") == []


async def test_a_step_keeps_its_prompt_whole_and_a_step_without_one_has_none(store: Store) -> None:
    await create(store, order(1))
    prompt = "Plan the change.\n\n" + "Ünïcode and `code`\n" * 1600  # 30,418 characters, kept whole
    await store.add_step(Step(agent_work_order_id="wo-0001", step="plan", agent_name="claude", success=True,
                              step_order=1, prompt=prompt))
    await store.add_step(Step(agent_work_order_id="wo-0001", step="commit", agent_name="bot", success=True,
                              step_order=2))
    assert [s.prompt for s in await store.list_steps("wo-0001")] == [prompt, None]


async def test_one_work_order_per_delivery(store: Store) -> None:
    await store.create_work_order(order(1, issue=5, delivery_id="delivery-1"))
    with pytest.raises(Conflict):
        await store.create_work_order(order(2, issue=5, delivery_id="delivery-1"))
    await store.create_work_order(order(3, issue=5))
    await store.create_work_order(order(4, issue=6))  # manual work orders carry no delivery
    assert len(await store.list_work_orders()) == 3


async def test_waiting_for_work_returns_within_its_timeout(store: Store) -> None:
    await asyncio.wait_for(store.wait_for_work(0.05), timeout=5)


# admission: replays, counts, refusal notices


async def test_one_work_order_per_trigger_whatever_its_delivery(store: Store) -> None:
    key = "octo/repo:comment:2345678901"
    await store.create_work_order(order(1, issue=5, delivery_id="d-1", trigger_key=key))
    for n, delivery in enumerate(("d-2", "d-3", "d-4"), start=2):
        with pytest.raises(Conflict):
            await store.create_work_order(order(n, issue=5, delivery_id=delivery, trigger_key=key))
    await store.create_work_order(order(5, issue=5, delivery_id="d-5", trigger_key="octo/repo:comment:2"))
    await store.create_work_order(order(6, issue=5))
    await store.create_work_order(order(7, issue=5))  # manual work orders carry no trigger
    assert sorted(w.id for w in await store.list_work_orders()) == ["wo-0001", "wo-0005", "wo-0006", "wo-0007"]
    assert (await store.get_work_order("wo-0001")).trigger_key == key


async def test_admission_load_counts_the_issue_the_actor_the_repository_and_all_pending(store: Store) -> None:
    now = datetime.now(UTC)
    recent = {"created_at": now - timedelta(minutes=5)}
    await create(
        store,
        order(1, issue=7, trigger_actor="alice", **recent),
        order(2, issue=7, trigger_actor="bob", **recent),
        order(3, issue=7, trigger_actor="alice", status=Status.COMPLETED, **recent),
        order(4, issue=8, trigger_actor="alice", created_at=now - timedelta(hours=2)),
        order(5, issue=9, trigger_actor="alice", repository_url="https://github.com/octo/other",
              repo_full_name="octo/other", **recent),
    )
    await store.claim("w1", 60)  # wo-0004, the oldest: running now, still active on #8
    load = await store.admission_load("octo/repo", 7, "alice", now - timedelta(hours=1))
    assert (load.issue_active, load.actor_recent, load.repo_recent, load.pending) == (2, 3, 3, 3)
    assert (await store.admission_load("octo/repo", 8, "carol", now - timedelta(hours=1))).issue_active == 1


async def test_a_refusal_is_said_once_per_issue_per_window(store: Store) -> None:
    assert await store.note_refusal("octo/repo", 7, 600) is True
    assert await store.note_refusal("octo/repo", 7, 600) is False
    assert await store.note_refusal("octo/repo", 8, 600) is True
    assert await store.note_refusal("octo/other", 7, 600) is True
    await asyncio.sleep(0.05)
    assert await store.note_refusal("octo/repo", 7, 0.01) is True  # the window has passed
    assert await store.note_refusal("octo/repo", 7, 600) is False


# stop and retry (issue 9)


async def test_a_pending_work_order_is_cancelled_at_once_with_its_report_owed(store: Store) -> None:
    await create(store, order(1, issue=7), order(2, issue=7))
    cancelled = await store.cancel_work_order("wo-0001")
    assert (cancelled.status, cancelled.report_pending, cancelled.error_message) == (
        Status.CANCELLED, True, "stopped on request")
    assert cancelled.completed_at is not None
    assert [w.id for w in await store.pending_reports()] == ["wo-0001"]
    claimed = await store.claim("w1", 60)
    assert claimed is not None and claimed.id == "wo-0002", "a cancelled work order was claimed or held its issue"


async def test_a_running_work_order_is_flagged_for_its_worker_and_ends_cancelled_by_it(store: Store) -> None:
    await create(store, order(1), order(2))
    await store.claim("w1", 60)
    await store.claim("w1", 60)
    assert await store.cancel_requests(["wo-0001", "wo-0002"]) == []
    flagged = await store.cancel_work_order("wo-0001")
    assert (flagged.status, flagged.lease_owner) == (Status.RUNNING, "w1")
    assert await store.cancel_requests(["wo-0001", "wo-0002", "wo-9999"]) == ["wo-0001"]
    assert await store.cancel_requests([]) == []
    assert await store.heartbeat("wo-0001", "w1", 60) is True, "a cancel request took the lease away"
    ended = await store.finish("wo-0001", "w1", Status.CANCELLED, {"error_message": "stopped on request"})
    assert ended.status is Status.CANCELLED
    assert await store.cancel_requests(["wo-0001"]) == []


async def test_a_running_work_order_whose_worker_died_is_cancelled_at_once(store: Store) -> None:
    await create(store, order(1))
    await store.claim("w1", 0)
    await expire_leases()
    cancelled = await store.cancel_work_order("wo-0001")
    assert (cancelled.status, cancelled.lease_owner, cancelled.report_pending) == (Status.CANCELLED, None, True)
    assert await store.claim("w2", 60) is None


async def test_only_an_active_work_order_can_be_cancelled(store: Store) -> None:
    await create(store, order(1))
    await store.claim("w1", 60)
    await store.finish("wo-0001", "w1", Status.COMPLETED, {})
    with pytest.raises(Conflict, match="completed: only a pending or running one"):
        await store.cancel_work_order("wo-0001")
    with pytest.raises(NotFound):
        await store.cancel_work_order("wo-9999")


async def test_a_failed_or_cancelled_work_order_is_retried_as_the_same_row(store: Store) -> None:
    await create(store, order(1, issue=7, progress_comment_id=55, git_branch_name="claude/issue-7"))
    await store.claim("w1", 60)
    await store.finish("wo-0001", "w1", Status.FAILED,
                       {"error_message": "boom", "report_pending": True, "metadata": {"outcome": "failed", "x": 1}})
    retried = await store.retry_work_order("wo-0001", 3)
    assert (retried.status, retried.error_message, retried.completed_at, retried.report_pending) == (
        Status.PENDING, None, None, False)
    assert (retried.progress_comment_id, retried.git_branch_name) == (55, "claude/issue-7")
    assert retried.metadata == {"x": 1} and retried.max_attempts - retried.attempt == 3
    again = await store.claim("w2", 60)
    assert again is not None and (again.id, again.attempt) == ("wo-0001", 2)
    await store.cancel_work_order("wo-0001")
    assert await store.cancel_requests(["wo-0001"]) == ["wo-0001"]
    await store.finish("wo-0001", "w2", Status.CANCELLED, {})
    rerun = await store.retry_work_order("wo-0001", 3)
    assert rerun.status is Status.PENDING
    assert await store.cancel_requests(["wo-0001"]) == [], "a retried work order kept its old stop request"
    claimed = await store.claim("w3", 60)
    assert claimed is not None and await store.cancel_requests(["wo-0001"]) == []


async def test_only_a_failed_or_cancelled_work_order_can_be_retried(store: Store) -> None:
    await create(store, order(1), order(2))
    with pytest.raises(Conflict, match="pending: only a failed or cancelled one"):
        await store.retry_work_order("wo-0001", 3)
    await store.claim("w1", 60)
    await store.finish("wo-0001", "w1", Status.COMPLETED, {})
    with pytest.raises(Conflict, match="completed"):
        await store.retry_work_order("wo-0001", 3)
    with pytest.raises(NotFound):
        await store.retry_work_order("wo-9999", 3)


# what /metrics reads at each scrape


async def test_queue_stats_count_every_status_the_oldest_pending_and_expired_leases(store: Store) -> None:
    empty = await store.queue_stats()
    assert empty.by_status == {str(s): 0 for s in Status} and empty.oldest_pending is None
    await create(store, order(1), order(2), order(3), order(4))
    await store.claim("w1", 60)  # order 1: running, a live lease
    await store.claim("w2", 0)  # order 2: running, its lease expired at once
    await store.cancel_work_order("wo-0004")
    await expire_leases()
    stats = await store.queue_stats()
    assert stats.by_status == {"pending": 1, "running": 2, "completed": 0, "failed": 0, "cancelled": 1}
    assert stats.oldest_pending == BASE + timedelta(seconds=3)
    assert stats.expired_leases == 1
    assert abs(stats.clock - datetime.now(UTC)) < timedelta(seconds=5)  # the store's clock, which stamps the ledger


async def test_spend_by_repository_sums_the_ledger_of_each_named_repository_in_a_time_range(store: Store) -> None:
    other = order(2, repository_url="https://github.com/octo/other", repo_full_name="octo/other")
    await create(store, order(1), other)

    async def spend(work_order: WorkOrder, n: int, cost: float) -> None:
        await store.add_step(Step(agent_work_order_id=work_order.id, step="implement", agent_name="claude",
                                  success=True, duration_seconds=1.0, executed_at=BASE, step_order=n, cost_usd=cost))

    await spend(order(1), 1, 0.25)
    await spend(other, 1, 2.0)
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)  # the ledger stamps its rows itself, with the database's clock (this machine's)
    await asyncio.sleep(0.05)
    await spend(order(1), 2, 0.5)
    names = ["octo/repo", "octo/none"]
    assert await store.spend_by_repository(names) == {"octo/repo": pytest.approx(0.75), "octo/none": 0.0}
    assert await store.spend_by_repository(names, until=middle) == {"octo/repo": pytest.approx(0.25), "octo/none": 0}
    assert await store.spend_by_repository(names, since=middle) == {"octo/repo": pytest.approx(0.5), "octo/none": 0}
