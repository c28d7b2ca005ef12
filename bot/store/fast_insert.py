"""The webhook's one SQLite insert, on the event loop: no thread hand-off, no shared lock, never a wait."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any


class FastInserts:
    """A second connection, used only on the event loop, for the webhook's one insert.

    A thread hand-off and the shared connection's lock cost more than the insert itself (WAL, synchronous
    NORMAL: no fsync per commit). Its busy timeout is 0: if another connection holds the write lock, the
    insert is not waited for on the loop but answered None, and the caller takes the usual thread path. Its
    automatic checkpoints are off (a checkpoint fsyncs); the store runs one in a thread every so often.
    """

    CHECKPOINT_EVERY = 200  # inserts; about SQLite's default of 1,000 WAL pages for 13 kB payloads

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.since_checkpoint = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    def open(self, path: str) -> None:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.conn = conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def insert(self, sql: str, row: dict[str, Any]) -> bool | None:
        """True if inserted, False if the row was there already, None if not tried or the file was busy.

        Not tried while a checkpoint is on its way: those inserts queue behind it in the thread path, so it
        runs soon and the WAL stays bounded (a loop that never stops inserting would otherwise outrun it)."""
        if self.conn is None or self.tasks:
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
