"""How `awo serve` runs uvicorn so that slow, idle or numerous clients cannot starve it."""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.settings import Settings

log = logging.getLogger(__name__)


class HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request head.

    uvicorn waits forever for a client that connects and sends nothing, or its headers a byte at a time
    (its keep-alive timer only starts after a first response). Here such a connection is closed once a whole
    `head_timeout` has passed with no request started or running. The body has its own deadline in the app.
    """

    head_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._cycle_seen = self.cycle
        self._deadline = self.loop.call_later(self.head_timeout, self._head_expired)

    def _head_expired(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.cycle is self._cycle_seen:
            if not self.transport.is_closing():
                self.transport.close()
            return
        self._cycle_seen = self.cycle
        self._deadline = self.loop.call_later(self.head_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)


def protocol_with(head_timeout: float) -> type[HeadDeadline]:
    return type("BoundedH11Protocol", (HeadDeadline,), {"head_timeout": head_timeout})


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one: each client connection holds a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Timeouts and limits for uvicorn.run; the body-read deadline is applied by the app itself."""
    open_files = raise_open_files_limit()
    if open_files < settings.http_max_connections + 64:
        log.warning("only %d open files allowed (ulimit -n): fewer than AWO_HTTP_MAX_CONNECTIONS=%d connections "
                    "can be served at once", open_files, settings.http_max_connections)
    return {
        "http": protocol_with(settings.http_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "limit_concurrency": settings.http_max_connections,
        "h11_max_incomplete_event_size": 16 * 1024,  # a request head larger than this is a 400
    }


class GracefulServer(uvicorn.Server):
    """uvicorn's server, where a second signal also ends the work orders' grace period, as for `awo worker`."""

    def __init__(self, config: uvicorn.Config, hurry: Callable[[], None]) -> None:
        super().__init__(config)
        self._hurry = hurry

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            log.warning("%s received again: releasing running work orders now", signal.Signals(sig).name)
            self._hurry()
        super().handle_exit(sig, frame)
