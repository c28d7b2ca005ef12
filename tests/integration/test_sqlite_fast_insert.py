"""The webhook's SQLite insert on the event loop: never waits there, still records, keeps the WAL bounded."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import StoreUnavailable
from bot.models import Delivery
from bot.store.fast_insert import FastInserts
from bot.store.sqlite import DELIVERIES, SqliteStore


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
    size, page = 12_000, 4096
    bound = FastInserts.RESTART_FRAMES * page  # where a RESTART starts the WAL over
    count = 4 * bound * 2 // (size * 5)  # each insert adds about 2.5 times its payload: 4 bounds' worth
    for n in range(count):
        assert await store.record_delivery(delivery(f"d-{n}", size)) is True
        await asyncio.sleep(0)  # let a checkpoint start, as answering requests does
    await asyncio.gather(*store._fast.tasks)
    wal = (tmp_path / "wo.db-wal").stat().st_size
    # without checkpoints the WAL would hold every insert (~4 bounds here) and grow on; with them, it is
    # started over once it passes the bound (plus what came in while that checkpoint ran)
    assert wal < 2 * bound, wal


async def test_a_redelivery_is_no_new_row_and_a_closed_store_is_unavailable(store: SqliteStore) -> None:
    assert await store.record_delivery(delivery("same")) is True
    assert await store.record_delivery(delivery("same")) is False
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.record_delivery(delivery("late"))


async def test_a_checkpoint_leaves_no_statement_that_stops_a_commit(store: SqliteStore) -> None:
    """A checkpoint's PRAGMA returns a row; handing back its cursor held the statement open for as long as the
    cursor lived, and a claim's COMMIT meanwhile failed and left the connection inside a transaction: every later
    write of the process joined it uncommitted, and the loop's inserts found the file locked for good."""
    results: list[object] = []

    async def run(work: Callable[[sqlite3.Connection], object]) -> object:
        results.append(await store._run(work))
        return results[-1]

    assert await store.record_delivery(delivery("before"))
    await store._fast.checkpoint(run)  # type: ignore[arg-type]
    assert results and not any(isinstance(r, sqlite3.Cursor) for r in results), results
    assert await store.claim("w", 60) is None
    assert await store.record_delivery(delivery("after"))


async def test_a_commit_that_fails_rolls_back_instead_of_staying_open(store: SqliteStore) -> None:
    """Whatever stops a COMMIT (here: a write statement of another cursor left running), the transaction ends:
    the claim says the store failed, and the next write is committed on its own."""
    running = await store._run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)"))
    with pytest.raises(StoreUnavailable):
        await store.claim("w", 60)
    del running
    assert not await store._run(lambda c: c.in_transaction)
    assert await store.record_delivery(delivery("after"))
    other = sqlite3.connect(store.path, isolation_level=None)
    assert other.execute(f"SELECT count(*) FROM {DELIVERIES}").fetchone() == (1,)
    other.close()


async def test_a_short_write_elsewhere_is_waited_out_on_the_loop_not_in_a_thread(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sending an insert to the thread as soon as the file is busy queued the next ones behind it (its write
    holds the lock in turn): under load half the deliveries went that way. A short wait on the loop does."""
    threaded: list[object] = []
    run = store._run
    monkeypatch.setattr(store, "_run", lambda work: threaded.append(work) or run(work))
    other = sqlite3.connect(tmp_path / "wo.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    asyncio.get_running_loop().call_later(0.003, other.execute, "COMMIT")
    assert await asyncio.gather(*(store.record_delivery(delivery(f"d-{n}")) for n in range(5))) == [True] * 5
    other.close()
    assert threaded == []
