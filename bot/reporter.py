"""Where progress goes: one GitHub comment edited in place (at most once a second), or the console."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from bot.errors import GitHubError
from bot.github import GitHubPort
from bot.models import Step, WorkOrder
from bot.report import render_comment, step_line
from bot.store import Store

log = logging.getLogger(__name__)


class Reporter(Protocol):
    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> None: ...


async def show_outcome(
    store: Store, reporter: Reporter, work_order: WorkOrder, steps: Sequence[Step] | None = None
) -> None:
    """The final report: the last attempt's steps and, when nothing changed, the agent's answer."""
    if steps is None:
        steps = [s for s in await store.list_steps(work_order.id) if s.attempt == work_order.attempt]
    await reporter.show(work_order, steps, answer=work_order.metadata.get("answer") or None, final=True)


class CommentReporter:
    """Edits the work order's progress comment at most once per interval; the latest state always lands.

    An update inside the interval is held and written when the interval ends (unless a newer one replaces
    it first); the final update waits out the interval and is always written. A failed edit is logged.
    """

    def __init__(self, github: GitHubPort, secrets: tuple[str, ...], min_interval: float = 1.0) -> None:
        self.github = github
        self.secrets = secrets
        self.min_interval = min_interval
        self._last = -min_interval
        self._last_body = ""
        self._held: tuple[WorkOrder, str] | None = None
        self._flush: asyncio.Task[None] | None = None

    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> None:
        if work_order.progress_comment_id is None or work_order.issue_number is None:
            return
        body = render_comment(work_order, steps, running=running, answer=answer, secrets=self.secrets)
        wait = self._last + self.min_interval - time.monotonic()
        if final:
            self._cancel_flush()
            await asyncio.sleep(max(0.0, wait))
            await self._write(work_order, body)
        elif wait <= 0:
            await self._write(work_order, body)
        else:
            self._hold(work_order, body, wait)

    def _hold(self, work_order: WorkOrder, body: str, wait: float) -> None:
        self._held = (work_order, body)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_after(wait))

    async def _flush_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        if self._held is not None:
            work_order, body = self._held
            await self._write(work_order, body)

    def _cancel_flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        self._held = None

    async def _write(self, work_order: WorkOrder, body: str) -> None:
        assert work_order.progress_comment_id is not None
        self._held = None
        if body == self._last_body:
            return
        self._last = time.monotonic()
        self._last_body = body
        try:
            await self.github.update_comment(work_order.repo_full_name, work_order.progress_comment_id, body)
        except GitHubError as exc:
            log.warning("work order %s: could not update its comment: %s", work_order.id, exc)


class ConsoleReporter:
    """For `awo run`: prints each finished step once, and the outcome."""

    def __init__(self) -> None:
        self._printed = 0

    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> None:
        for step in steps[self._printed:]:
            print(step_line(step).replace("**", ""), flush=True)
        self._printed = len(steps)
        if final:
            print(render_comment(work_order, [], answer=answer).split("\n", 1)[1].replace("**", ""), flush=True)
