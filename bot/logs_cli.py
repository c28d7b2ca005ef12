"""`awo logs ID [--follow]`: a work order's log as the REST API shows it (AWO_URL, AWO_API_TOKEN), like `awo list`
and `awo show`, so the three agree and work from any machine that reaches the server.

The entries so far come in pages (`GET /{id}/logs?after=N`); with --follow, then the live stream
(`GET /{id}/logs/stream`, Server-Sent Events) until its `end` event. A dropped stream is resumed after the last
entry printed (`Last-Event-ID`), a few times with a growing pause; entries are printed in id order and never twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from bot.api_client import ApiClient, ApiError
from bot.errors import BotError, NotFound
from bot.models import LogEntry
from bot.progress import log_line
from bot.settings import Settings
from bot.store import ID_SHAPE
from bot.work_orders_cli import plain
from bot.worklog import is_final

PAGE = 1000  # the API's largest page
RETRIES = 5  # reconnections in a row without an entry between them, before giving up
BACKOFF_SECONDS = 0.5  # the first pause before a reconnection; doubled each time, at most MAX_BACKOFF_SECONDS
MAX_BACKOFF_SECONDS = 8.0


async def run_logs(settings: Settings, args: argparse.Namespace) -> int:
    """0 when printed (followed to the end); BotError (exit 1, one line) when the server cannot say."""
    if not ID_SHAPE.match(args.id) or args.id.strip(".") == "":
        raise BotError(f"{plain(args.id, 80)!r} is not a work order id (wo-...)")
    async with ApiClient(settings) as api:
        try:
            async for entry in LogReader(api, args.id, args.after).entries(follow=args.follow):
                print(log_line(entry), flush=True)
        except NotFound:
            raise NotFound(f"no work order {args.id} on {api.shown}") from None
    return 0


class LogReader:
    """One work order's log over the API, with a cursor: the id of the last entry handed out."""

    def __init__(self, api: ApiClient, work_order_id: str, after: int = 0, *,
                 backoff: float = BACKOFF_SECONDS) -> None:
        self.api, self.path, self.cursor = api, f"/{work_order_id}/logs", after
        self.backoff = backoff
        self.ended = False  # the final status entry (or the stream's `end`) was seen

    async def entries(self, follow: bool) -> AsyncIterator[LogEntry]:
        async for entry in self.pages():
            yield entry
        if follow and not self.ended:
            async for entry in self.live():
                yield entry

    async def pages(self) -> AsyncIterator[LogEntry]:
        """Every entry after the cursor, page by page, as the list route has them now."""
        while True:
            body = await self.api.get(self.path, {"after": self.cursor, "limit": PAGE})
            entries = [LogEntry.model_validate(e) for e in body["log_entries"]]
            for entry in self.fresh(entries):
                yield entry
            if len(entries) < PAGE:
                return

    async def live(self) -> AsyncIterator[LogEntry]:
        """The stream after the cursor until its `end`; reconnected after a drop, up to RETRIES times in a row."""
        failures = 0
        while not self.ended:
            try:
                async for entry in self.stream():
                    failures = 0
                    yield entry
            except ApiError as exc:
                if not exc.retryable or failures >= RETRIES:
                    raise
                await asyncio.sleep(min(self.backoff * 2 ** failures, MAX_BACKOFF_SECONDS))
                failures += 1

    async def stream(self) -> AsyncIterator[LogEntry]:
        """One connection's entries; a connection closed before `end` is a drop (retryable)."""
        events = self.api.events(f"{self.path}/stream", {"after": self.cursor}, str(self.cursor))
        async with aclosing(events):  # the connection is closed at `end`, not when the generator is collected
            async for event in events:
                if event.name == "end":
                    self.ended = True
                    return
                if event.name == "log":
                    for entry in self.fresh([LogEntry.model_validate(json.loads(event.data))]):
                        yield entry
        raise ApiError(f"the server at {self.api.shown} closed the log stream before its end", retryable=True)

    def fresh(self, entries: list[LogEntry]) -> list[LogEntry]:
        """Those after the cursor (a resumed stream never repeats one), moving it; the final status ends the log."""
        kept = [e for e in entries if e.id > self.cursor]
        if kept:
            self.cursor = kept[-1].id
            self.ended = is_final(kept[-1])  # a retried work order's log goes on after an earlier final entry
        return kept
