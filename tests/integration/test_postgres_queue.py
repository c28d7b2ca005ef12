"""The shared queue on real Postgres under contention: many workers claim at once, none waits, none doubles up."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.models import WorkOrder
from bot.store.postgres import PostgresStore

from .conftest import empty_tables

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def order(n: int) -> WorkOrder:
    return WorkOrder(agent_work_order_id=f"wo-{n:04d}", repository_url="https://github.com/octo/repo",
                     repo_full_name="octo/repo", issue_number=n, created_at=BASE + timedelta(seconds=n))


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Six workers' stores, each with its own pool, on one emptied database."""
    empty_tables(postgres_url)
    opened = [PostgresStore(postgres_url, min_size=1, max_size=2) for _ in range(6)]
    for store in opened:
        await store.open()
    yield opened
    for store in opened:
        await store.close()


async def test_a_claim_skips_a_work_order_another_worker_is_locking(
    stores: list[PostgresStore], postgres_url: str,
) -> None:
    """A worker mid-claim holds its row; another claims the next one at once instead of queueing behind it."""
    store = stores[0]
    for n in (1, 2):
        await store.create_work_order(order(n))
    async with await psycopg.AsyncConnection.connect(postgres_url) as locker:
        await locker.execute("SELECT 1 FROM archon_agent_work_orders WHERE agent_work_order_id = 'wo-0001' FOR UPDATE")
        try:
            claimed = await asyncio.wait_for(stores[1].claim("w2", 60), timeout=3)
        finally:
            await locker.rollback()
    assert claimed is not None and claimed.id == "wo-0002"


async def test_many_workers_claiming_at_once_take_each_work_order_exactly_once(stores: list[PostgresStore]) -> None:
    for n in range(1, 31):
        await stores[0].create_work_order(order(n))

    async def claim_all(store: PostgresStore, worker: str) -> list[str]:
        taken = []
        while (claimed := await store.claim(worker, 60)) is not None:
            taken.append(claimed.id)
        return taken

    results = await asyncio.wait_for(
        asyncio.gather(*(claim_all(store, f"w{i}") for i, store in enumerate(stores))), timeout=30)
    counts = Counter(wid for taken in results for wid in taken)
    assert sorted(counts) == [f"wo-{n:04d}" for n in range(1, 31)]  # every one claimed ...
    assert set(counts.values()) == {1}  # ... by exactly one worker
    rows = await stores[0].list_work_orders()
    owners = {w.id: w.lease_owner for w in rows}
    for i, taken in enumerate(results):
        assert all(owners[wid] == f"w{i}" for wid in taken)
