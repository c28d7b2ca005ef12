"""Waiting for a work order's new log entries: polling the store, or one LISTEN connection fanned out (Postgres)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # the stores without notifications are asked this often while someone watches
RECONNECT_SECONDS = 1.0
HasAfter = Callable[[], Awaitable[bool]]


async def poll_for_logs(has_after: HasAfter, timeout: float) -> bool:
    """True as soon as `has_after()` is; False after `timeout` seconds without."""
    deadline = time.monotonic() + timeout
    while not await has_after():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(POLL_SECONDS, left))
    return True


class LogWatch:
    """One LISTEN agent_work_order_logs connection per process; each NOTIFY (payload: a work order's id) wakes
    the waiters of that work order only. While the connection is not listening, waiters poll instead."""

    def __init__(self, connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]], listen: str) -> None:
        self._connect, self._listen_sql = connect, listen
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    async def wait(self, work_order_id: str, has_after: HasAfter, timeout: float) -> bool:
        """True when entries after the caller's cursor exist (at once, or on a notification); False at timeout."""
        self._start()
        if not self.listening:
            return await poll_for_logs(has_after, timeout)
        event = asyncio.Event()
        waiters = self._waiters.setdefault(work_order_id, set())
        waiters.add(event)  # before asking: a row inserted after the question wakes it
        try:
            if await has_after():
                return True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
            return event.is_set()
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(work_order_id, None)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except psycopg.OperationalError as exc:
                log.warning("LISTEN agent_work_order_logs failed, log streams poll instead: %s", exc)
            self.listening = False
            self._wake_all()  # they ask the store again, and poll until the connection is back
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        async with await self._connect() as conn:
            await conn.execute(self._listen_sql)
            self.listening = True
            async for note in conn.notifies():
                for event in self._waiters.get(note.payload, ()):
                    event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.listening = False
