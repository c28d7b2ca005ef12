"""What only the Postgres store does: health without migrations, LISTEN/NOTIFY, many workers at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.errors import StoreUnavailable
from bot.models import Delivery, Repository, Status, WorkOrder
from bot.store.postgres import PostgresStore

from .conftest import empty_tables, fresh_database

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=1"
BASE = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    empty_tables(postgres_url)
    backend = PostgresStore(postgres_url, max_size=4)
    await backend.open()
    yield backend
    await backend.close()


def order(n: int, issue: int) -> WorkOrder:
    return WorkOrder(agent_work_order_id=f"wo-{n:04d}", repository_url="https://github.com/octo/repo",
                     repo_full_name="octo/repo", issue_number=issue, created_at=BASE + timedelta(seconds=n))


async def test_health_without_migrations_says_how_to_migrate() -> None:
    with fresh_database() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            health = await store.health()
            with pytest.raises(StoreUnavailable, match="awo migrate"):
                await store.list_work_orders()
        finally:
            await store.close()
    assert (health.status, health.tables_exist) == ("healthy", False)
    assert health.hint and "awo migrate" in health.hint


async def test_an_unreachable_database_is_unhealthy_and_never_raises_from_health() -> None:
    store = PostgresStore(UNREACHABLE, timeout=1)
    with pytest.raises(StoreUnavailable):
        await store.open()
    health = await store.health()
    assert (health.status, health.tables_exist) == ("unhealthy", False)
    with pytest.raises(StoreUnavailable):
        await store.claim("w1", 60)


async def test_wait_for_work_wakes_up_on_a_new_pending_work_order(store: PostgresStore) -> None:
    await store.wait_for_work(0.01)  # LISTEN is in place from here on
    waiting = asyncio.create_task(store.wait_for_work(10))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await store.create_work_order(order(1, issue=1))
    await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - started < 2


async def test_wait_for_work_wakes_up_when_an_issue_queue_moves_on(store: PostgresStore) -> None:
    await store.create_work_order(order(1, issue=1))
    await store.claim("w1", 60)
    await store.wait_for_work(0.01)
    waiting = asyncio.create_task(store.wait_for_work(10))
    await asyncio.sleep(0.05)
    await store.finish("wo-0001", "w1", Status.COMPLETED, {})
    await asyncio.wait_for(waiting, 5)


async def test_wait_for_work_returns_after_the_timeout_when_nothing_happens(store: PostgresStore) -> None:
    await store.wait_for_work(0.01)
    started = time.monotonic()
    await store.wait_for_work(0.2)
    assert 0.15 < time.monotonic() - started < 2


async def test_wait_for_work_falls_back_to_sleeping_when_it_cannot_listen() -> None:
    store = PostgresStore(UNREACHABLE, timeout=1)
    started = time.monotonic()
    await store.wait_for_work(0.1)
    assert time.monotonic() - started >= 0.1


async def test_four_workers_never_claim_the_same_work_order(store: PostgresStore, postgres_url: str) -> None:
    """50 work orders on 25 issues, two each: every issue's older one is claimed exactly once, then the rest."""
    for n in range(50):
        await store.create_work_order(order(n, issue=n % 25))
    workers = [PostgresStore(postgres_url, max_size=2) for _ in range(4)]
    for worker in workers:
        await worker.open()
    try:
        first = await asyncio.gather(*(drain(w, f"w{i}") for i, w in enumerate(workers)))
        for work_order_id, worker_id in [c for claims in first for c in claims]:
            await store.finish(work_order_id, worker_id, Status.COMPLETED, {})
        second = await asyncio.gather(*(drain(w, f"w{i}") for i, w in enumerate(workers)))
    finally:
        for worker in workers:
            await worker.close()
    first_ids = Counter(wo for claims in first for wo, _ in claims)
    second_ids = Counter(wo for claims in second for wo, _ in claims)
    assert set(first_ids.values()) == {1} and set(second_ids.values()) == {1}
    assert sorted(first_ids) == [f"wo-{n:04d}" for n in range(25)]
    assert sorted(second_ids) == [f"wo-{n:04d}" for n in range(25, 50)]


async def drain(store: PostgresStore, worker_id: str) -> list[tuple[str, str]]:
    """Claim until nothing is runnable; the (work order, worker) pairs claimed."""
    claimed: list[tuple[str, str]] = []
    while (work_order := await store.claim(worker_id, 60)) is not None:
        claimed.append((work_order.id, worker_id))
    return claimed


async def test_a_repository_url_the_database_refuses_is_a_value_error(store: PostgresStore) -> None:
    with pytest.raises(ValueError, match="valid_repository_url"):
        await store.add_repository(Repository(repository_url="/srv/git/repo.git"))


async def test_a_delivery_the_database_refuses_fails_alone_not_the_others_of_its_batch(store: PostgresStore) -> None:
    """Deliveries of one loop turn share one INSERT; a row Postgres refuses (an escaped NUL in jsonb, which the
    webhook itself turns away first) must fail only its own caller, as it did when each had its own insert."""
    good = [Delivery(delivery_id=f"good-{n}", event="issues", raw='{"n": 1}') for n in range(3)]
    bad = Delivery(delivery_id="bad", event="issues", raw='{"x": "\\u0000"}')
    results = await asyncio.gather(*(store.record_delivery(d) for d in [good[0], bad, *good[1:]]),
                                   return_exceptions=True)
    assert results[0] is True and results[2:] == [True, True]
    assert isinstance(results[1], psycopg.DataError)
    assert sorted(d.delivery_id for d in await store.list_deliveries()) == ["good-0", "good-1", "good-2"]
