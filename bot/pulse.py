"""A process-wide "something changed" signal: wakes whoever waits, at once, with no state to lose.

The dashboard's list streams wait on it (a new work order from this process's intake, a status this process's
worker wrote), and fall back to reading the store every few tenths of a second for what other processes change.
"""

from __future__ import annotations

import asyncio
import contextlib


class Pulse:
    def __init__(self) -> None:
        self.generation = 0
        self._event: asyncio.Event | None = None

    def fire(self) -> None:
        """Wake every waiter (call it on the event loop's thread)."""
        self.generation += 1
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, timeout: float) -> bool:
        """True when fired within `timeout` seconds (or since `generation` was read by the caller's last look)."""
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
        return event.is_set()
