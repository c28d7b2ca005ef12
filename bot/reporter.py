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

log = logging.getLogger(__name__)


class Reporter(Protocol):
    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> None: ...


class CommentReporter:
    """Edits the work order's progress comment; a failed edit is logged, never fatal."""

    def __init__(self, github: GitHubPort, secrets: tuple[str, ...], min_interval: float = 1.0) -> None:
        self.github = github
        self.secrets = secrets
        self.min_interval = min_interval
        self._last = 0.0
        self._last_body = ""

    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> None:
        if work_order.progress_comment_id is None or work_order.issue_number is None:
            return
        wait = self._last + self.min_interval - time.monotonic()
        if wait > 0 and not final:
            return
        body = render_comment(work_order, steps, running=running, answer=answer, secrets=self.secrets)
        if body == self._last_body:
            return
        await asyncio.sleep(max(0.0, wait))
        await self._write(work_order, body)

    async def _write(self, work_order: WorkOrder, body: str) -> None:
        assert work_order.progress_comment_id is not None
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
