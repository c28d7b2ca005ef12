"""The claim loop: stop event + semaphore + notify-or-poll, a lease heartbeat per work order."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable
from dataclasses import dataclass

from bot.admission import recheck
from bot.errors import LeaseLost, StoreUnavailable
from bot.models import Status, WorkOrder
from bot.pipeline import Pipeline, Run, Services
from bot.report import redact
from bot.reporter import CommentReporter, ConsoleReporter, Reporter, show_outcome

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 2
    lease_seconds: float = 60
    poll_seconds: float = 1.0
    max_backoff: float = 10.0
    grace_seconds: float = 30.0  # on shutdown, how long running work orders may take to finish


class Worker:
    """Claims work orders and runs them, `concurrency` at a time, until stopped."""

    def __init__(self, services: Services, config: WorkerConfig, worker_id: str | None = None) -> None:
        self.s = services
        self.config = config
        self.worker_id = worker_id or new_worker_id()
        self.pipeline = Pipeline(services)
        self.wake = asyncio.Event()
        self.running: set[asyncio.Task[WorkOrder]] = set()
        self.hurry = asyncio.Event()  # set on a second signal: end the grace period now

    def notify(self) -> None:
        """New work may be waiting (called by intake in the same process)."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        slots = asyncio.Semaphore(self.config.concurrency)
        backoff = 0.0
        log.info("worker %s started (%d at a time)", self.worker_id, self.config.concurrency)
        while not stop.is_set():
            await _first(slots.acquire(), stop.wait())
            if stop.is_set():
                break
            try:
                claimed = await self._claim()
                backoff = 0.0
            except StoreUnavailable as exc:
                slots.release()
                backoff = min(self.config.max_backoff, max(1.0, backoff * 2))
                log.warning("store unavailable (%s); retrying in %.0f s", exc, backoff)
                await _first(asyncio.sleep(backoff), stop.wait())
                continue
            if claimed is None:
                slots.release()
                await self._idle(stop)
                continue
            self._start(claimed, slots)
        await self._shutdown()

    async def _claim(self) -> WorkOrder | None:
        for expired in await self.s.store.fail_exhausted():
            await show_outcome(self.s.store, self.reporter_for(expired), expired)
        return await self.s.store.claim(self.worker_id, self.config.lease_seconds)

    async def _idle(self, stop: asyncio.Event) -> None:
        self.wake.clear()
        await _first(self.wake.wait(), stop.wait(), self.s.store.wait_for_work(self.config.poll_seconds))

    def _start(self, work_order: WorkOrder, slots: asyncio.Semaphore) -> None:
        task = asyncio.create_task(self.work(work_order), name=work_order.id)
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        task.add_done_callback(lambda _: slots.release())

    async def _shutdown(self) -> None:
        """Claim nothing more; running work orders may finish within the grace period, the rest go back."""
        if not self.running:
            return
        log.info("worker %s stopping: %d work order(s) running, up to %g s to finish", self.worker_id,
                 len(self.running), self.config.grace_seconds)
        running = set(self.running)
        await _first(asyncio.wait(running), asyncio.sleep(self.config.grace_seconds), self.hurry.wait())
        for task in running:
            task.cancel()  # the CLI's process group is killed as the step unwinds, then the order is released
        await asyncio.gather(*running, return_exceptions=True)

    def reporter_for(self, work_order: WorkOrder) -> Reporter:
        if self.s.github is None or work_order.metadata.get("publish") is False:
            return ConsoleReporter() if work_order.metadata.get("console") else NullReporter()
        return CommentReporter(self.s.github, self.s.secrets)

    async def work(self, work_order: WorkOrder) -> WorkOrder:
        """Run one claimed work order to its end, with a heartbeat holding its lease."""
        log.info("work order %s: claimed (attempt %d)", work_order.id, work_order.attempt)
        run = Run(work_order, self.worker_id, self.reporter_for(work_order))
        heartbeat = asyncio.create_task(self._heartbeat(asyncio.current_task(), work_order.id))
        try:
            return await self._execute(run, heartbeat)
        finally:
            heartbeat.cancel()

    async def _execute(self, run: Run, heartbeat: asyncio.Task[None]) -> WorkOrder:
        status, error = Status.COMPLETED, None
        try:
            await self._still_allowed(run.work_order)
            await self.pipeline.execute(run)
        except (LeaseLost, StoreUnavailable) as exc:
            return self._abandon(run, exc)
        except asyncio.CancelledError:
            await self._release(run)
            raise
        except Exception as exc:  # noqa: BLE001 - the one place a work order's failure is recorded
            if not type(exc).__module__.startswith("bot."):
                log.exception("work order %s: unexpected error", run.work_order.id)
            status, error = Status.FAILED, failure_text(exc, self.s.secrets)
        # finishing releases the lease; a heartbeat after it would see "taken over" and cancel the final report
        heartbeat.cancel()
        try:
            return await self._finish(run, status, error)
        except (LeaseLost, StoreUnavailable) as exc:
            return self._abandon(run, exc)

    async def _still_allowed(self, work_order: WorkOrder) -> None:
        """Permission is asked again at claim time: a writer demoted while the work order waited gets nothing."""
        if self.s.github is not None and work_order.trigger_actor and work_order.repo_full_name:
            await recheck(self.s.github, work_order.repo_full_name, work_order.trigger_actor)

    def _abandon(self, run: Run, reason: Exception) -> WorkOrder:
        """Leave the work order to whoever holds (or next takes) its lease; nothing is recorded twice."""
        log.warning("work order %s: stopped here, left to its next lease holder (%s)", run.work_order.id, reason)
        return run.work_order

    async def _finish(self, run: Run, status: Status, error: str | None) -> WorkOrder:
        metadata = {**run.work_order.metadata, "outcome": outcome_of(run, status)}
        if status is Status.COMPLETED and not run.changed:
            metadata["answer"] = run.summary
        finished = await self.s.store.finish(
            run.work_order.id, self.worker_id, status, {"error_message": error, "metadata": metadata})
        log.info("work order %s: %s%s", finished.id, status, f" ({error})" if error else "")
        run.work_order = finished
        await show_outcome(self.s.store, run.reporter, finished, run.shown)
        return finished

    async def _release(self, run: Run) -> None:
        """On shutdown, hand the work order back at once, not counting this attempt, instead of letting the lease
        expire."""
        try:
            await asyncio.shield(self.s.store.release(run.work_order.id, self.worker_id))
        except (LeaseLost, StoreUnavailable) as exc:
            log.warning("work order %s: not released (%s); its lease will expire", run.work_order.id, exc)
            return
        log.warning("work order %s: stopped by shutdown, handed back to the queue (attempt not counted)",
                    run.work_order.id)

    async def _heartbeat(self, task: asyncio.Task[object] | None, work_order_id: str) -> None:
        interval = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                alive = await self.s.store.heartbeat(work_order_id, self.worker_id, self.config.lease_seconds)
            except StoreUnavailable as exc:
                log.warning("work order %s: heartbeat failed (%s)", work_order_id, exc)
                continue
            if not alive and task is not None:
                log.warning("work order %s: lease taken over; stopping", work_order_id)
                task.cancel()
                return


def outcome_of(run: Run, status: Status) -> str:
    if status is not Status.COMPLETED:
        return str(status)
    if run.work_order.pr_url:
        return "pull request"
    return "branch" if run.changed else "answer"


class NullReporter:
    async def show(self, *args: object, **kwargs: object) -> None:
        return None


def failure_text(exc: BaseException, secrets_: tuple[str, ...]) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, Exception) or type(exc).__module__.startswith("bot."):
        return redact(text, secrets_)
    return redact(f"internal error ({type(exc).__name__}); see the bot's log", secrets_)


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of several awaitables finishes; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
