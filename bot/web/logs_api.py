"""GET /api/agent-work-orders/{id}/logs and /{id}/logs/stream (SSE): a work order's log, in Archon's shapes.

The list is a page (`limit`, `offset`, or `after` an entry's id; `level`, `step` filters). The stream sends the
entries after `Last-Event-ID` (or `?after=`), then each new one as the store has it (Postgres: NOTIFY from any
machine; elsewhere: polling), a ping every 15 s, and ends after the work order's final status entry. At most
MAX_STREAMS streams are open at once in one process; one more is a 503 with Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.models import LogEntry
from bot.store import Store
from bot.web.api import PREFIX, InvalidBody, Refused, errors_of, guarded, path_id, query_of
from bot.web.context import runtime_of
from bot.worklog import tail

MAX_STREAMS = 100  # per process: each holds a task and, while it waits, nothing else (one LISTEN is shared)
PING_SECONDS = 15
LEVEL = r"^(debug|info|warning|error)$"
STEP = r"^[a-z][a-z0-9_-]{0,40}$"


class LogQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)
    after: int = Field(0, ge=0, le=2**63 - 1)
    level: str | None = Field(None, pattern=LEVEL)
    step: str | None = Field(None, pattern=STEP)
    since: AwareDatetime | None = None  # Archon's stream filter: entries at or after this time

    @field_validator("since", mode="before")
    @classmethod
    def _utc(cls, value: object) -> object:
        """A time without a zone is UTC, like every time the API shows."""
        if isinstance(value, str) and value and not any(z in value[10:] for z in ("+", "-", "Z", "z")):
            return value + "+00:00"
        return value


class StreamSlots:
    """A count of open streams in this process, refused past its limit."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit, self.open = limit, 0

    def take(self) -> None:
        if self.open >= self.limit:
            raise Refused(503, f"too many log streams are open ({self.limit}); try again shortly")
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1


def slots_of(request: Request) -> StreamSlots:
    state = request.app.state
    if not hasattr(state, "log_streams"):
        state.log_streams = StreamSlots()
    return state.log_streams  # type: ignore[no-any-return]


def shown(entry: LogEntry) -> dict[str, Any]:
    """Our fields, and Archon's names for them (`timestamp`, `event`, `work_order_id`)."""
    body = entry.model_dump(mode="json")
    return {**body, "timestamp": body["at"], "event": entry.kind, "work_order_id": entry.agent_work_order_id}


async def list_logs(request: Request) -> Response:
    work_order_id, page = path_id(request), query_of(request, LogQuery)
    store = runtime_of(request).store
    await store.get_work_order(work_order_id)
    entries = await store.list_logs(work_order_id, page.after, page.limit, offset=page.offset,
                                    level=page.level, step=page.step)
    total = await store.count_logs(work_order_id, level=page.level, step=page.step)
    return JSONResponse({
        "agent_work_order_id": work_order_id, "log_entries": [shown(e) for e in entries], "total": total,
        "limit": page.limit, "offset": page.offset,
        "next_after": entries[-1].id if entries else page.after,  # the cursor for the page after this one
    })


async def stream_logs(request: Request) -> Response:
    work_order_id, page = path_id(request), query_of(request, LogQuery)
    after = resume_point(request, page.after)
    store = runtime_of(request).store
    await store.get_work_order(work_order_id)
    slots = slots_of(request)
    slots.take()
    events = follow(store, work_order_id, after, page)
    return EventSourceResponse(released(events, slots), ping=PING_SECONDS,
                               headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def resume_point(request: Request, after: int) -> int:
    """`Last-Event-ID` (a reconnecting EventSource sends the last id it saw) wins over `?after=`."""
    header = request.headers.get("last-event-id")
    if header is None:
        return after
    try:
        return LogQuery.model_validate({"after": header}).after
    except ValidationError as exc:
        raise InvalidBody(errors_of(exc)) from None


async def released(events: AsyncIterator[dict[str, str]], slots: StreamSlots) -> AsyncIterator[dict[str, str]]:
    """The stream's slot is given back however it ends: its last event, the client gone, the server stopping."""
    try:
        async for event in events:
            yield event
    finally:
        slots.give_back()


async def follow(store: Store, work_order_id: str, after: int, page: LogQuery) -> AsyncIterator[dict[str, str]]:
    """Every entry after `after` that passes the filters, as it is stored, then `end` after the final one. The
    cursor moves over every entry, filtered or not: the final status entry ends the stream either way."""
    async for entry in tail(store, work_order_id, after):
        if matches(entry, page):
            yield {"id": str(entry.id), "event": "log", "data": json.dumps(shown(entry))}
    yield {"event": "end", "data": json.dumps({"agent_work_order_id": work_order_id})}


def matches(entry: LogEntry, page: LogQuery) -> bool:
    return ((page.level is None or entry.level == page.level) and (page.step is None or entry.step == page.step)
            and (page.since is None or entry.at >= page.since))


routes = [
    Route(f"{PREFIX}/{{id}}/logs", guarded(list_logs), methods=["GET"]),
    Route(f"{PREFIX}/{{id}}/logs/stream", guarded(stream_logs), methods=["GET"]),
]
