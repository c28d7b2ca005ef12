"""The work order log's writer: each event as it happens, redacted and bounded; a write never fails a work order.

Readers (the API's /logs routes, and through them `awo logs` and the dashboard) use the Store's list_logs and
wait_for_logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.errors import BotError
from bot.models import LogEntry, Status, WorkOrder
from bot.report import redact
from bot.sanitize import without_invisible
from bot.store import Store

log = logging.getLogger(__name__)
MESSAGE_CHARS = 500  # one line: a tool use's description is cut at 200 by the agent already
DATA_KEYS, DATA_CHARS = 20, 200  # small JSON: a few numbers and names, never a step's output
WRITE_SECONDS = 2.0  # a store slower than this loses the entry (and says so), never holds up the work order
ENDED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})


class LogKind(StrEnum):
    STATUS = "status"
    STEP_STARTED = "step_started"
    TOOL_USE = "tool_use"
    STEP_FINISHED = "step_finished"
    ERROR = "error"
    NOTE = "note"


def is_final(entry: LogEntry) -> bool:
    """The last entry a work order's log gets for an attempt: its status became completed, failed or cancelled."""
    return entry.kind == LogKind.STATUS and entry.data.get("status") in ENDED


def one_line(text: str, secrets: tuple[str, ...]) -> str:
    """Redacted first, then flattened and cut: a secret split by the cut could otherwise slip past."""
    flat = " ".join(without_invisible(redact(text, secrets)).split())  # no escape sequence reaches a terminal
    return flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 1] + "…"


def small(data: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """At most DATA_KEYS scalar values; strings redacted and cut, anything nested dropped."""
    kept: dict[str, Any] = {}
    for key, value in list(data.items())[:DATA_KEYS]:
        if isinstance(value, str):
            kept[str(key)[:50]] = redact(value, secrets)[:DATA_CHARS]
        elif value is None or isinstance(value, bool | int | float):
            kept[str(key)[:50]] = value
    return kept


@dataclass
class WorkLog:
    """Writes one work order's events to the store."""

    store: Store
    secrets: tuple[str, ...] = ()
    observer: Callable[[LogEntry], None] | None = None  # `awo run`'s progress display: each entry as written

    async def write(self, work_order_id: str, kind: LogKind, message: str, *, step: str | None = None,
                    level: str = "info", data: dict[str, Any] | None = None) -> LogEntry | None:
        """The stored entry, or None when the store could not take it in time (logged, not raised)."""
        entry = LogEntry(agent_work_order_id=work_order_id, kind=kind, step=step, level=level,
                         message=one_line(message, self.secrets), data=small(data or {}, self.secrets))
        if self.observer is not None:
            self.observer(entry)
        try:
            return await asyncio.wait_for(self.store.append_log(entry), WRITE_SECONDS)
        except (BotError, TimeoutError) as exc:
            log.warning("work order %s: log entry %s not stored (%s)", work_order_id, kind, exc or "timed out")
            return None

    async def status(self, work_order_id: str, status: Status, detail: str = "", **data: Any) -> None:
        level = "error" if status is Status.FAILED else "info"
        text = f"{status}: {detail}" if detail else str(status)
        await self.write(work_order_id, LogKind.STATUS, text, level=level, data={"status": str(status), **data})

    async def step_started(self, work_order_id: str, step: str, attempt: int) -> None:
        await self.write(work_order_id, LogKind.STEP_STARTED, f"{step} started", step=step,
                         data={"attempt": attempt})

    async def tool_use(self, work_order_id: str, step: str, description: str,
                       cost_so_far: float | None = None) -> None:
        """`cost_so_far`: the work order's dollars at this moment (earlier steps and this one's running count)."""
        data: dict[str, Any] = {"tool": description.split(" ", 1)[0]}
        if cost_so_far is not None:
            data["cost_so_far_usd"] = round(cost_so_far, 6)
        await self.write(work_order_id, LogKind.TOOL_USE, description, step=step, data=data)

    async def step_finished(self, work_order_id: str, step: str, *, error: str | None, duration: float,
                            cost_usd: float | None, num_turns: int | None) -> None:
        text = f"{step} failed after {duration:.1f} s: {error}" if error else f"{step} finished in {duration:.1f} s"
        data = {"success": error is None, "duration_seconds": round(duration, 3), "cost_usd": cost_usd,
                "num_turns": num_turns}
        await self.write(work_order_id, LogKind.STEP_FINISHED, text, step=step,
                         level="error" if error else "info", data=data)


@dataclass
class Doing:
    """What a running work order's log says it is doing: its step in progress, that step's latest tool use (both
    None between steps) and the largest running cost a tool use carried. Folded over entries in order."""

    step: str | None = None
    tool_use: str | None = None
    cost_so_far: float = 0.0

    def after(self, entry: LogEntry) -> Doing:
        if entry.kind == LogKind.STEP_STARTED:
            self.step, self.tool_use = entry.step, None
        elif entry.kind in (LogKind.STEP_FINISHED, LogKind.STATUS):
            self.step, self.tool_use = None, None
        elif entry.kind == LogKind.TOOL_USE and entry.step == self.step:
            self.tool_use = entry.message
        self.cost_so_far = max(self.cost_so_far, cost_of(entry))
        return self

    def over(self, entries: list[LogEntry]) -> Doing:
        for entry in entries:
            self.after(entry)
        return self

    def shown(self) -> dict[str, Any]:
        return {"current_step": self.step, "current_tool_use": self.tool_use}


def cost_of(entry: LogEntry) -> float:
    """The running cost a tool use's entry carried (0 for any other entry)."""
    spent = entry.data.get("cost_so_far_usd") if entry.kind == LogKind.TOOL_USE else None
    return float(spent) if isinstance(spent, int | float) else 0.0


async def doing(store: Store, work_order: WorkOrder, until: int | None = None, *, after: int = 0,
                start: Doing | None = None) -> Doing:
    """What the log up to entry `until` (None: all of it) says, going on from `start` (what the entries up to
    `after` said); an ended work order's log is not read."""
    now = start or Doing()
    while work_order.status is Status.RUNNING and (until is None or after < until) and (
            entries := await store.list_logs(work_order.id, after, 1000)):
        after = entries[-1].id
        now.over([e for e in entries if until is None or e.id <= until])
    return now


async def progress(store: Store, work_order: WorkOrder) -> dict[str, Any]:
    """The step in progress and its latest tool use, as the API shows them (None for both unless it runs)."""
    return (await doing(store, work_order)).shown()


PAGE = 200
QUIET_SECONDS = 5.0  # how often a quiet follower looks whether its work order ended without a final entry


async def tail(store: Store, work_order_id: str, after: int = 0) -> AsyncIterator[LogEntry]:
    """The entries after `after`, then each new one as the store has it, until the work order's final status entry
    (or, without one, until it has ended and a quiet wait brought nothing more)."""
    cursor = after
    while True:
        entries = await store.list_logs(work_order_id, cursor, PAGE)
        for entry in entries:
            cursor = entry.id
            yield entry
            if is_final(entry):
                return
        if len(entries) == PAGE:
            continue
        if not await store.wait_for_logs(work_order_id, cursor, QUIET_SECONDS) and await _ended_quietly(
                store, work_order_id, cursor):
            return


async def _ended_quietly(store: Store, work_order_id: str, cursor: int) -> bool:
    """Ended, and nothing after the cursor: asked only after a quiet wait, so the worker's final entry (written just
    after its finish) has landed if it was going to."""
    work_order = await store.get_work_order(work_order_id)
    return work_order.status in ENDED and not await store.list_logs(work_order_id, cursor, 1)
