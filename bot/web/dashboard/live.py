"""The dashboard's live streams (Server-Sent Events, read from the store, so the worker may be another machine).

- `/events?<the list's filters>`: the list's rows, re-rendered whenever they change: at once when this process
  queued a work order or wrote a status, else within LIST_SECONDS. The first page of a filter is read at most once
  per change or LIST_SECONDS per process however many browsers watch it (a shared, short-lived answer).
- `/work-orders/{id}/events?after=N`: the work order's new log entries (`log`), its state when it changes
  (`state`: status, step, tool use, cost, turns, links, which buttons apply), and `end` once it has ended.
  On Postgres a NOTIFY wakes it at once; elsewhere the store is polled (bot/store/log_watch.py). The streams of one
  work order share their reads while one is under way (the ones a NOTIFY wakes together ask the store once).
Both count against the log streams' per-process limit (bot/web/logs_api.py: a 503 past it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from bot.models import LogEntry, Status, WorkOrder
from bot.store import Store
from bot.web.api import Refused, path_id
from bot.web.context import runtime_of
from bot.web.dashboard.forms import ListFilters, filters_of
from bot.web.dashboard.render import clock, fragment, money, took, turns
from bot.web.logs_api import PING_SECONDS, released, slots_of
from bot.worklog import ENDED, LogKind, doing, is_final

LIST_SECONDS = 0.4  # how fresh a watched list is for changes made by other processes (this one's: at once)
WAIT_SECONDS = 1.0  # a watched work order's row is read again at least this often (cost, turns, PR)
ENDING_SECONDS = 2.0  # an ended work order's final entry (written just after its row) is awaited this long
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
T = TypeVar("T")


class SharedReads:
    """One read per key per LIST_SECONDS, however many streams ask: the answer is kept that long and shared, unless
    this process changed something since (the pulse's generation)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, int, asyncio.Task[str]]] = {}

    def get(self, key: str, read: Callable[[], Awaitable[str]], generation: int = 0) -> Awaitable[str]:
        now = time.monotonic()
        kept = self._kept.get(key)
        if (kept is None or now - kept[0] >= LIST_SECONDS or kept[1] != generation
                or (kept[2].done() and kept[2].exception())):
            if len(self._kept) > 1000:  # filters nobody watches any more
                self._kept = {k: v for k, v in self._kept.items() if now - v[0] < LIST_SECONDS}
            kept = (now, generation, asyncio.ensure_future(read()))
            self._kept[key] = kept
        return asyncio.shield(kept[2])


def shared_of(request: Request) -> SharedReads:
    state = request.app.state
    if not hasattr(state, "dashboard_reads"):
        state.dashboard_reads = SharedReads()
    return state.dashboard_reads  # type: ignore[no-any-return]


class InFlight:
    """Identical reads asked while one is under way share it; nothing is kept once it has ended. A stream that
    joins a read begun just before an entry landed misses it this turn, and its wait (which asks the store) wakes
    at once for it."""

    def __init__(self) -> None:
        self._reads: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    def read(self, call: Callable[..., Awaitable[T]], *args: Any) -> Awaitable[T]:
        key = (call.__name__, *args)
        running = self._reads.get(key)
        if running is None:
            running = asyncio.ensure_future(call(*args))
            self._reads[key] = running
            running.add_done_callback(lambda done: self._ended(key, done))
        return asyncio.shield(running)

    def _ended(self, key: tuple[Any, ...], done: asyncio.Future[Any]) -> None:
        self._reads.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: every stream that asked has it, or has gone


def in_flight_of(request: Request) -> InFlight:
    state = request.app.state
    if not hasattr(state, "dashboard_in_flight"):
        state.dashboard_in_flight = InFlight()
    return state.dashboard_in_flight  # type: ignore[no-any-return]


async def list_events(request: Request) -> Response:
    from bot.web.dashboard.views import list_rows

    filters, wrong = filters_of(request, ListFilters)
    if wrong:
        raise Refused(422, wrong)
    filters = filters.model_copy(update={"cursor": None})
    key = json.dumps(filters.query(), sort_keys=True)

    async def render() -> str:
        return fragment("rows.html", await list_rows(request, filters))

    changes = runtime_of(request).changes

    async def events() -> AsyncIterator[dict[str, str]]:
        shown = None
        while True:
            seen = changes.generation
            rows = await shared_of(request).get(key, render, seen)
            if rows != shown:
                shown = rows
                yield {"event": "rows", "data": rows}
            if changes.generation == seen:  # at once for this process's changes; others' within LIST_SECONDS
                await changes.wait(LIST_SECONDS)

    slots = slots_of(request)
    slots.take()
    return EventSourceResponse(released(events(), slots), ping=PING_SECONDS, headers=SSE_HEADERS)


def entry_view(entry: LogEntry) -> dict[str, Any]:
    """What the timeline shows of an entry: text only (the page puts it in with textContent, never as HTML)."""
    data = entry.data
    extra = []
    if entry.kind == LogKind.STEP_FINISHED:
        if isinstance(data.get("cost_usd"), int | float):
            extra.append(money(data["cost_usd"]))
        if isinstance(data.get("num_turns"), int):
            extra.append(turns(data["num_turns"]))
    return {"id": entry.id, "kind": entry.kind, "level": entry.level, "step": entry.step or "",
            "at": clock(entry.at), "message": entry.message, "extra": " · ".join(extra)}


def state_view(order: WorkOrder, step: str | None, tool: str | None, cost_so_far: float = 0.0) -> dict[str, Any]:
    """`cost_so_far`: the latest running count a tool use carried; the row's total only grows when a step ends."""
    return {
        "status": str(order.status), "step": step or "", "tool": tool or "",
        "cost": money(max(order.total_cost_usd, cost_so_far)),
        "turns": turns(order.num_turns), "took": took(order.started_at, order.completed_at),
        "attempt": order.attempt, "pr_url": order.pr_url or "",
        "branch": order.git_branch_name or "", "error": order.error_message or "",
        "can_cancel": order.status.is_active, "can_retry": order.status in (Status.FAILED, Status.CANCELLED),
        "ended": order.status in ENDED,
    }


async def work_order_events(request: Request) -> Response:
    store = runtime_of(request).store
    work_order_id = path_id(request)
    order = await store.get_work_order(work_order_id)
    after = request.query_params.get("after", "0")
    header = request.headers.get("last-event-id")
    cursor_text = header if header is not None else after
    if not cursor_text.isdecimal() or len(cursor_text) > 19:
        raise Refused(422, "after: the id of a log entry")
    slots = slots_of(request)
    slots.take()
    events = follow(store, order, int(cursor_text), in_flight_of(request))
    return EventSourceResponse(released(events, slots), ping=PING_SECONDS, headers=SSE_HEADERS)


async def follow(store: Store, order: WorkOrder, cursor: int,
                 shared: InFlight | None = None) -> AsyncIterator[dict[str, str]]:
    """New entries and state changes until the work order has ended and its final entry (or a quiet wait) is in;
    `shared`: the reads of the other streams of this process to join (none: its own)."""
    shared = shared or InFlight()
    now = await doing(store, order, cursor)
    shown: dict[str, Any] | None = None
    while True:
        entries = await shared.read(store.list_logs, order.id, cursor, 200)
        final = False
        for entry in entries:
            cursor = entry.id
            now.after(entry)
            final = final or is_final(entry)
            yield {"id": str(entry.id), "event": "log", "data": json.dumps(entry_view(entry))}
        order = await shared.read(store.get_work_order, order.id)
        running = order.status is Status.RUNNING
        state = state_view(order, now.step if running else None, now.tool_use if running else None, now.cost_so_far)
        if state != shown:
            shown = state
            yield {"event": "state", "data": json.dumps(state)}
        if len(entries) == 200:
            continue
        if state["ended"] and (final or not await store.wait_for_logs(order.id, cursor, ENDING_SECONDS)):
            yield {"event": "end", "data": json.dumps({"status": state["status"]})}
            return
        if not state["ended"]:
            await store.wait_for_logs(order.id, cursor, WAIT_SECONDS)
