"""The webhook's SQLite insert on the event loop: never waits there, still records, keeps the WAL bounded."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import StoreUnavailable
from bot.models import Delivery
from bot.store.fast_insert import FastInserts
from bot.store.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "wo.db")
    await opened.open()
    yield opened
    await opened.close()


def delivery(name: str, size: int = 10) -> Delivery:
    return Delivery(delivery_id=name, event="issue_comment", payload={"x": "y" * size}, raw=f'{{"x": "{"y" * size}"}}')


async def test_a_busy_file_is_waited_for_in_a_thread_not_on_the_loop(store: SqliteStore, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "wo.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer (a worker, another process) holds the write lock
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    recording = asyncio.create_task(store.record_delivery(delivery("busy")))
    await asyncio.sleep(0.3)
    assert not recording.done() and ticks >= 10  # the loop ran on while the insert waited
    other.execute("COMMIT")
    assert await recording is True
    ticking.cancel()
    other.close()
    assert (await store.get_delivery("busy")).payload == {"x": "y" * 10}


async def test_the_wal_is_checkpointed_while_only_the_loop_writes(store: SqliteStore, tmp_path: Path) -> None:
    size, count = 12_000, FastInserts.CHECKPOINT_EVERY * 20
    for n in range(count):
        assert await store.record_delivery(delivery(f"d-{n}", size)) is True
        await asyncio.sleep(0)  # let a checkpoint start, as answering requests does
    await asyncio.gather(*store._fast.tasks)
    wal = (tmp_path / "wo.db-wal").stat().st_size
    # each insert adds about 2.5 times its payload to the WAL: without checkpoints ~120 MB here, and growing
    assert wal < count * size * 2.5 / 3, wal


async def test_a_redelivery_is_no_new_row_and_a_closed_store_is_unavailable(store: SqliteStore) -> None:
    assert await store.record_delivery(delivery("same")) is True
    assert await store.record_delivery(delivery("same")) is False
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.record_delivery(delivery("late"))
