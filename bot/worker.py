"""The claim loop: stop event + semaphore + notify-or-poll, a lease heartbeat per work order."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from bot.admission import recheck, recheck_pull_request
from bot.control import STOPPED
from bot.errors import LeaseLost, StoreUnavailable
from bot.logs import work_order_context
from bot.models import Status, WorkOrder, utcnow
from bot.pipeline import Pipeline, Run, Services
from bot.report import redact
from bot.reporter import (
    CommentReporter,
    ConsoleReporter,
    Reporter,
    deliver_reports,
    find_progress_comment,
    show_outcome,
)
from bot.stopping import finishing, stopped_on_request, watch_stops

log = logging.getLogger(__name__)
FRESH_SECONDS = 10.0  # a work order this young at its claim still has a receiver posting its queued comment


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 2
    lease_seconds: float = 60
    poll_seconds: float = 1.0
    max_backoff: float = 10.0
    report_every: float = 5.0  # how often the claim loop retries the reports GitHub did not take (the outbox)
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
        self._reported_at = -config.report_every
        self.hurry = asyncio.Event()  # set on a second signal: end the grace period now
        self.stopping: set[asyncio.Task[Any]] = set()  # running work orders' tasks cancelled on request

    def notify(self) -> None:
        """New work may be waiting (called by intake in the same process)."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        slots = asyncio.Semaphore(self.config.concurrency)
        backoff = 0.0
        log.info("worker %s started (%d at a time)", self.worker_id, self.config.concurrency)
        watch = asyncio.create_task(watch_stops(self.s.store, lambda: set(self.running), self.stopping,
                                                owner=asyncio.current_task()))
        while not stop.is_set():
            await _first(slots.acquire(), stop.wait())
            if stop.is_set():
                break
            self.wake.clear()  # before the claim: a notify while it runs then wakes the idle wait at once
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
        watch.cancel()
        await self._shutdown()

    async def _claim(self) -> WorkOrder | None:
        for exhausted in await self.s.store.fail_exhausted():
            self.s.metrics.leases_expired.inc()
            with work_order_context(exhausted):
                log.warning("work order %s: failed: %s", exhausted.id, exhausted.error_message)
            await self.s.work_log.status(exhausted.id, Status.FAILED, exhausted.error_message or "")
            self._reported_at = -self.config.report_every  # say it on the issue now
        await self._deliver_reports()
        claimed = await self.s.store.claim(self.worker_id, self.config.lease_seconds)
        if claimed is not None:
            self.s.metrics.claimed(claimed)
        return claimed

    async def _deliver_reports(self) -> None:
        """Every few seconds, retry the final reports GitHub did not take (any worker may deliver any)."""
        if time.monotonic() - self._reported_at < self.config.report_every:
            return
        self._reported_at = time.monotonic()
        if self.s.github is not None:
            await deliver_reports(self.s.store, self.s.github, self.s.secrets, public_url=self.s.public_url)

    async def _idle(self, stop: asyncio.Event) -> None:
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
        return CommentReporter(self.s.github, self.s.secrets, public_url=self.s.public_url)

    async def work(self, work_order: WorkOrder) -> WorkOrder:
        """Run one claimed work order to its end, with a heartbeat holding its lease."""
        with work_order_context(work_order):  # every line below, and in the heartbeat, names it
            log.info("work order %s: claimed (attempt %d)", work_order.id, work_order.attempt)
            run = Run(work_order, self.worker_id, self.reporter_for(work_order))
            heartbeat = asyncio.create_task(self._heartbeat(asyncio.current_task(), work_order.id))
            try:
                return await self._execute(run, heartbeat)
            finally:
                heartbeat.cancel()
                run.stop_reading()  # a work order refused at its claim needs its PR's conversation no more
                await settle(run.warming)

    async def _execute(self, run: Run, heartbeat: asyncio.Task[None]) -> WorkOrder:
        status, error = Status.COMPLETED, None
        try:
            # both GitHub calls at once, and the mirror's fetch; no step runs until the permission is confirmed
            self.pipeline.warm(run)
            await self._log_claim(run)
            await _all(self._find_comment(run, at_claim=True), self._still_allowed(run))
            await self.pipeline.execute(run)
        except (LeaseLost, StoreUnavailable) as exc:
            return self._abandon(run, exc)
        except asyncio.CancelledError:
            if not stopped_on_request(self.stopping):
                await self._release(run)
                raise
            status, error = Status.CANCELLED, STOPPED
        except Exception as exc:  # noqa: BLE001 - the one place a work order's failure is recorded
            if not type(exc).__module__.startswith("bot."):
                log.exception("work order %s: unexpected error", run.work_order.id)
            status, error = Status.FAILED, failure_text(exc, self.s.secrets)
        # finishing releases the lease; a heartbeat after it would see "taken over" and cancel the final report
        heartbeat.cancel()
        finishing(self.stopping)  # a stop asked for from here on is too late: it would cancel the final report
        try:
            return await self._finish(run, status, error)
        except (LeaseLost, StoreUnavailable) as exc:
            return self._abandon(run, exc)

    async def _log_claim(self, run: Run) -> None:
        """Inside the work order's try: a stop arriving during this write still hands the work order back."""
        wo = run.work_order
        taken = f", taking over from {wo.reclaimed_from}, whose lease expired" if wo.reclaimed_from is not None else ""
        await self.s.work_log.status(wo.id, Status.RUNNING, f"claimed by {self.worker_id}{taken}", attempt=wo.attempt,
                                     worker=self.worker_id, reclaimed_from=wo.reclaimed_from)

    async def _find_comment(self, run: Run, at_claim: bool = False) -> None:
        """Before the first report: the comment a receiver posted but did not link is found by its marker. At the
        claim of a work order just made, its receiver is most likely still posting it: GitHub is not searched
        then (a page of comments per hundred on the issue, for nothing); the final report searches."""
        if self.s.github is not None and isinstance(run.reporter, CommentReporter):
            wo = run.work_order
            search = not at_claim or wo.attempt > 1 or (utcnow() - wo.created_at).total_seconds() > FRESH_SECONDS
            run.work_order = await find_progress_comment(self.s.store, self.s.github, wo, self.worker_id, search)

    async def _still_allowed(self, run: Run) -> None:
        """Permission is asked again at claim time: a writer demoted while the work order waited gets nothing; and
        a pull request closed or re-pointed meanwhile is not pushed to (checked on the read its context uses)."""
        work_order = run.work_order
        if self.s.github is not None and work_order.trigger_actor and work_order.repo_full_name:
            await _all(recheck(self.s.github, work_order.repo_full_name, work_order.trigger_actor),
                       recheck_pull_request(self.s.github, work_order, run.pull))

    def _abandon(self, run: Run, reason: Exception) -> WorkOrder:
        """Leave the work order to whoever holds (or next takes) its lease; nothing is recorded twice."""
        log.warning("work order %s: stopped here, left to its next lease holder (%s)", run.work_order.id, reason)
        self.s.metrics.leases_lost.inc()
        return run.work_order

    async def _finish(self, run: Run, status: Status, error: str | None) -> WorkOrder:
        """The final comment first, then the row: the API never says "completed" before GitHub does.

        A report GitHub did not take is finished with report_pending, and the claim loop retries it.
        """
        metadata = {**run.work_order.metadata, "outcome": outcome_of(run, status)}
        if status is Status.COMPLETED and not run.changed:
            metadata["answer"] = run.summary
        changes = {"error_message": error, "metadata": metadata}
        await self._confirm_lease(run)
        await self._find_comment(run)
        ended = run.work_order.model_copy(update={**changes, "status": status, "completed_at": utcnow()})
        reported = await show_outcome(self.s.store, run.reporter, ended, run.shown)
        finished = await self.s.store.finish(
            run.work_order.id, self.worker_id, status, {**changes, "report_pending": not reported})
        log.log(logging.INFO if status is Status.COMPLETED else logging.WARNING, "work order %s: %s%s%s",
                finished.id, status, f" ({error})" if error else "", "" if reported else "; its report is pending")
        run.work_order = finished
        await self.s.work_log.status(finished.id, status, error or "", attempt=finished.attempt,
                                     cost_usd=finished.total_cost_usd, pr_url=finished.pr_url)
        return finished

    async def _confirm_lease(self, run: Run) -> None:
        """A worker whose lease was taken over says nothing: the comment belongs to the new holder."""
        if not await self.s.store.heartbeat(run.work_order.id, self.worker_id, self.config.lease_seconds):
            raise LeaseLost(f"work order {run.work_order.id} is no longer leased by {self.worker_id}")

    async def _release(self, run: Run) -> None:
        """On shutdown, hand the work order back at once, not counting this attempt, instead of letting the lease
        expire."""
        try:
            released = await asyncio.shield(self.s.store.release(run.work_order.id, self.worker_id))
        except StoreUnavailable as exc:
            log.warning("work order %s: not released (%s); its lease will expire", run.work_order.id, exc)
            return
        if not released:
            log.warning("work order %s: not released: this worker no longer holds it", run.work_order.id)
            return
        log.warning("work order %s: stopped by shutdown, handed back to the queue (attempt not counted)",
                    run.work_order.id)
        await asyncio.shield(self.s.work_log.status(run.work_order.id, Status.PENDING, "handed back: worker stopping"))

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
    async def show(self, *args: object, **kwargs: object) -> bool:
        return True


def failure_text(exc: BaseException, secrets_: tuple[str, ...]) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, Exception) or type(exc).__module__.startswith("bot."):
        return redact(text, secrets_)
    return redact(f"internal error ({type(exc).__name__}); see the bot's log", secrets_)


async def _all(*calls: Awaitable[object]) -> None:
    """Await independent calls concurrently; the first error cancels the others and is raised as itself."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # the others' outcomes are collected, not left


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of several awaitables finishes; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def settle(warming: asyncio.Task[Any] | None, timeout: float = 60) -> None:
    """Wait for the claim's fetch (and the pool slot it readies) to end before the work order's task does, so
    that slot is freed when the work order ends, even one refused before its checkout step; a work order never
    leaves a git process of its own running behind it. Its failure was the checkout step's to report."""
    if warming is not None and not warming.done():
        await asyncio.wait({warming}, timeout=timeout)
