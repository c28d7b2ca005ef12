"""The webhook's one SQLite insert, on the event loop: no thread hand-off, no shared lock, never blocking."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

Run = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]


class FastInserts:
    """A second connection, used only on the event loop, for the webhook's one insert.

    A thread hand-off and the shared connection's lock cost more than the insert itself (WAL, synchronous
    NORMAL: no fsync per commit). Its busy timeout is 0: if another connection holds the write lock, the
    insert is not waited for on the loop but answered None, and the caller takes the usual thread path. Its
    automatic checkpoints are off (a checkpoint fsyncs): `checkpoint` runs one in a thread every so often.
    """

    CHECKPOINT_EVERY = 200  # inserts; about SQLite's default of 1,000 WAL pages for 13 kB payloads

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.since_checkpoint = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.released = asyncio.Event()  # cleared while a checkpoint's last part runs: inserts wait for it
        self.released.set()

    def open(self, path: str) -> None:
        self.released = asyncio.Event()  # made anew: an event belongs to the loop that first waits on it
        self.released.set()
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.conn = conn

    def close(self) -> None:
        self.released.set()  # nothing waits for a checkpoint of a closed store
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def insert(self, sql: str, row: dict[str, Any]) -> bool | None:
        """True if inserted, False if the row was there already, None if not tried or the file was busy.

        While a checkpoint ends (see `checkpoint`) it waits for it, on the loop: no thread, no lock."""
        await self.released.wait()
        if self.conn is None:
            return None
        try:
            inserted = self.conn.execute(sql, row).rowcount == 1
        except sqlite3.OperationalError:  # busy, or worse: the thread path waits, or says StoreUnavailable
            return None
        self.since_checkpoint += 1
        return inserted

    def due_for_checkpoint(self) -> bool:
        """Every CHECKPOINT_EVERY inserts, once the last checkpoint is over (they would only queue up)."""
        if self.since_checkpoint < self.CHECKPOINT_EVERY or self.tasks:
            return False
        self.since_checkpoint = 0
        return True

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference until the task ends (the loop keeps only weak ones)."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def checkpoint(self, run: Run) -> None:
        """Copy the WAL into the database file and start it over, with `run` (the store's thread path).

        First PASSIVE, while the loop goes on inserting: the bulk of the copying and its fsync stall nobody.
        Under steady inserts that one never catches up, so the WAL would never start over and would grow
        without end; a RESTART follows, with inserts held back meanwhile, for the few pages added since."""
        try:
            await run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)"))
            self.released.clear()
            await run(lambda c: c.execute("PRAGMA wal_checkpoint(RESTART)"))
        finally:
            self.released.set()
