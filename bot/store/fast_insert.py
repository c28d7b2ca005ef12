"""The webhook's one SQLite insert, on the event loop: no thread hand-off, no shared lock, never blocking."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from bot.store.batch import Batched

Asked = tuple[str, dict[str, Any], int]  # sql, row, the size of its body
Run = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]


class FastInserts:
    """A second connection, used only on the event loop, for the webhook's one insert.

    A thread hand-off and the shared connection's lock cost more than the insert itself (WAL, synchronous
    NORMAL: no fsync per commit). Its busy timeout is 0, so it never blocks the loop: while another connection
    holds the write lock the insert is tried again after a pause (PAUSES, ~15 ms in all), then answered None
    and the caller takes the usual thread path. Inserts asked for in one turn of the loop share one commit.
    Its automatic checkpoints are off (a checkpoint fsyncs): `checkpoint` runs one in a thread every so often.
    """

    # About SQLite's default of 1,000 WAL pages: counted in bytes, not inserts, since most deliveries are
    # recorded without their body (a page or two each) and a few with it (a 13 kB body is four pages).
    CHECKPOINT_BYTES = 1024 * 1024
    PAUSES = (0.0005, 0.001, 0.002, 0.004, 0.008)  # seconds, between tries while another connection writes
    RESTART_FRAMES = 4096  # pages: a WAL of 16 MB is started over even under steady inserts
    ROW_BYTES = 4096  # what an insert adds to the WAL besides its body: a table page and an index page, about

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.written = 0  # bytes, roughly, added to the WAL since the last checkpoint
        self._inserts: Batched[Asked, bool | None] = Batched(self._insert_batch)
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

    async def insert(self, sql: str, row: dict[str, Any], size: int = 0) -> bool | None:
        """True if inserted, False if the row was there already, None if not tried or the file was busy.
        `size`: the bytes of its largest value (a body), which the WAL grows by besides ROW_BYTES.

        While a checkpoint ends (see `checkpoint`) it waits for it, on the loop: no thread, no lock."""
        await self.released.wait()
        if self.conn is None:
            return None
        return await self._inserts((sql, row, size))

    async def _insert_batch(self, batch: list[Asked]) -> list[bool | None]:
        """The inserts asked for in one turn of the loop, in one transaction (one lock, one WAL commit). While
        another connection holds the write lock, tried again a little later, on the loop: that write is short,
        and going to the thread path at once would queue every insert behind it. None each: not inserted."""
        for pause in (*self.PAUSES, None):
            if self.conn is None:
                break
            try:
                results = self._insert_all(self.conn, batch)
            except sqlite3.OperationalError as exc:  # busy, or worse: the thread path waits, or says why
                if pause is None or not str(exc).startswith("database is locked"):
                    break
                await asyncio.sleep(pause)
                continue
            self.written += sum(self.ROW_BYTES + size for _, _, size in batch)
            return results
        return [None] * len(batch)

    @staticmethod
    def _insert_all(conn: sqlite3.Connection, batch: list[Asked]) -> list[bool | None]:
        if len(batch) == 1:
            sql, row, _ = batch[0]
            return [conn.execute(sql, row).rowcount == 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            results: list[bool | None] = [conn.execute(sql, row).rowcount == 1 for sql, row, _ in batch]
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        return results

    def due_for_checkpoint(self) -> bool:
        """Every CHECKPOINT_BYTES written, once the last checkpoint is over (they would only queue up)."""
        if self.written < self.CHECKPOINT_BYTES or self.tasks:
            return False
        self.written = 0
        return True

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference until the task ends (the loop keeps only weak ones)."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def checkpoint(self, run: Run) -> None:
        """Copy the WAL into the database file and start it over, with `run` (the store's thread path).

        First PASSIVE, while the loop goes on inserting: the bulk of the copying and its fsync stall nobody.
        Under steady inserts that one never catches up, so the WAL would never start over and would grow
        without end; once it holds RESTART_FRAMES, a RESTART follows, with inserts held back meanwhile, for
        the pages added since. Only then: the hold (its fsync) was the acknowledgement's slowest moment, and
        a PASSIVE one that caught up lets the next insert start the WAL over by itself.
        Each PRAGMA's row is read to the end: a cursor handed back would hold its statement open, and a
        COMMIT on that connection fails while one is."""
        try:
            [(_, frames, _)] = await run(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
            if frames < self.RESTART_FRAMES:
                return
            self.released.clear()
            await run(lambda c: c.execute("PRAGMA wal_checkpoint(RESTART)").fetchall())
        finally:
            self.released.set()
