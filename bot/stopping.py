"""A worker's watch over its running work orders' stop requests: the cancel that crosses machines.

A stop asked for anywhere (a receiver, the API, `awo cancel`) is a flag on the row; every `every` seconds the
worker asks the store, in one cheap query, which of its running work orders are flagged, and cancels their
tasks. The agent's process group dies as the step unwinds (bot/process.py kills it on cancellation); the
worker then finishes the row `cancelled` with its report, because it knows why it was cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.errors import StoreUnavailable
from bot.store import Store

log = logging.getLogger(__name__)
WATCH_SECONDS = 1.0  # the lease heartbeat (lease/3, 20 s) is far too slow for "stop within seconds"


async def watch_stops(
    store: Store, running: Callable[[], set[asyncio.Task[Any]]], stopping: set[asyncio.Task[Any]],
    every: float = WATCH_SECONDS, owner: asyncio.Task[Any] | None = None,
) -> None:
    """Forever: cancel the task of each running work order whose stop was asked for, once, noting the task in
    `stopping` first (the task tells a stop from a shutdown by it, and is never cancelled twice: a second
    cancel would land in its final report). Tasks are named by their work order's id. Ends with `owner` (the
    claim loop), however that ends."""
    while owner is None or not owner.done():
        await asyncio.sleep(every)
        tasks = {task.get_name(): task for task in running() if not task.done()}
        stopping.intersection_update(tasks.values())  # ended ones are forgotten
        if not tasks:
            continue
        try:
            asked = await store.cancel_requests(sorted(tasks))
        except StoreUnavailable as exc:
            log.warning("could not check for stop requests (%s)", exc)
            continue
        for work_order_id in asked:
            task = tasks[work_order_id]
            if task not in stopping:
                log.warning("work order %s: stop requested; cancelling it", work_order_id)
                stopping.add(task)
                task.cancel()


def stopped_on_request(stopping: set[asyncio.Task[Any]]) -> bool:
    """In a work order's task that was just cancelled: True if a stop request did it (not a shutdown); the
    cancellation is then taken back, so the task may still finish the row and edit its report."""
    task = asyncio.current_task()
    if task is None or task not in stopping:
        return False
    task.uncancel()
    return True


def finishing(stopping: set[asyncio.Task[Any]]) -> None:
    """In a work order's task about to finish its row: the watch leaves it alone from now on, so a stop asked for
    while it writes its final report (completed, say) does not cut that report off and leave the row running."""
    task = asyncio.current_task()
    if task is not None:
        stopping.add(task)
