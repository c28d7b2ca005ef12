"""Where progress goes: one GitHub comment edited in place (at most once a second), or the console.

The final report is part of finishing: the worker writes it before the row ends, and a report GitHub did not
take stays in the outbox (`report_pending`) until `deliver_reports` gets it there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from bot.errors import GitHubError
from bot.github import GitHubPort
from bot.models import Step, WorkOrder, utcnow
from bot.report import (
    marker,
    page_of,
    pull_request_marker,
    pull_request_report,
    render_comment,
    reports_on_pull_request,
    step_line,
)
from bot.store import Store
from bot.threads import Thread, thread_of

log = logging.getLogger(__name__)
# A report with no comment to edit creates one only this long after the work order ended: by then the
# receiver that posts the queued comment has either done it (found by its marker) or never will.
CREATE_AFTER_SECONDS = 120.0


class Reporter(Protocol):
    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> bool:
        """Show this state; True when a final report reached its audience."""
        ...


async def show_outcome(
    store: Store, reporter: Reporter, work_order: WorkOrder, steps: Sequence[Step] | None = None
) -> bool:
    """The final report: the last attempt's steps and, when nothing changed, the agent's answer; True if shown."""
    if steps is None:
        steps = [s for s in await store.list_steps(work_order.id) if s.attempt == work_order.attempt]
    shown = await reporter.show(work_order, steps, answer=work_order.metadata.get("answer") or None, final=True)
    return shown or not awaits_comment(work_order)


def awaits_comment(work_order: WorkOrder) -> bool:
    """A work order triggered on GitHub owes the issue a comment; one made through the API has none to edit."""
    return work_order.progress_comment_id is not None or work_order.delivery_id is not None


async def linked_comment(store: Store, work_order: WorkOrder) -> WorkOrder:
    """The work order with the comment id a receiver saved on its row since it was read, if it has."""
    stored = await store.get_work_order(work_order.id)
    if stored.progress_comment_id is None:
        return work_order
    return work_order.model_copy(update={"progress_comment_id": stored.progress_comment_id})


async def find_progress_comment(
    store: Store, github: GitHubPort, work_order: WorkOrder, owner: str | None = None, search: bool = True,
) -> WorkOrder:
    """The work order with its comment id: from the row if a receiver saved it since, else (with `search`) by the
    comment's marker.

    A receiver that died between posting the queued comment and saving its id leaves the id missing; the
    marker finds that comment, so the work order still has exactly one.
    """
    thread = thread_of(work_order)
    if work_order.progress_comment_id is not None or thread is None:
        return work_order
    linked = await linked_comment(store, work_order)
    if linked.progress_comment_id is not None or not search:
        return linked
    try:
        found = await thread.find(github, marker(work_order.id))
    except GitHubError as exc:
        log.warning("work order %s: could not look for its comment: %s", work_order.id, exc)
        return work_order
    if found is None:
        return work_order
    log.info("work order %s: found its comment %d by its marker", work_order.id, found)
    await store.update_work_order(work_order.id, {"progress_comment_id": found}, owner=owner)
    return work_order.model_copy(update={"progress_comment_id": found})


async def deliver_reports(store: Store, github: GitHubPort, secrets: tuple[str, ...], limit: int = 20,
                          public_url: str | None = None) -> int:
    """Write the final comment of every ended work order GitHub does not have yet (the outbox); how many landed."""
    delivered = 0
    for work_order in await store.pending_reports(limit):
        if await _deliver(store, github, secrets, work_order, public_url):
            await store.mark_reported(work_order)
            delivered += 1
    return delivered


async def _deliver(store: Store, github: GitHubPort, secrets: tuple[str, ...], work_order: WorkOrder,
                   public_url: str | None = None) -> bool:
    if work_order.metadata.get("publish") is False or work_order.issue_number is None or not awaits_comment(work_order):
        return True  # nothing is reported on GitHub for it
    work_order = await find_progress_comment(store, github, work_order)
    if work_order.progress_comment_id is None:
        return await _post_report(store, github, secrets, work_order, public_url)
    return await show_outcome(store, CommentReporter(github, secrets, min_interval=0, public_url=public_url),
                              work_order)


async def _post_report(store: Store, github: GitHubPort, secrets: tuple[str, ...], work_order: WorkOrder,
                       public_url: str | None = None) -> bool:
    """No comment was ever posted (GitHub refused the queued one): post the report, once the receiver is done."""
    ended = work_order.completed_at or work_order.updated_at
    if (utcnow() - ended).total_seconds() < CREATE_AFTER_SECONDS:
        return False
    thread = thread_of(work_order)
    assert thread is not None
    steps = [s for s in await store.list_steps(work_order.id) if s.attempt == work_order.attempt]
    body = render_comment(work_order, steps, answer=work_order.metadata.get("answer") or None, secrets=secrets,
                          page=page_of(public_url, work_order.id))
    try:
        comment_id = await thread.post(github, body)
    except GitHubError as exc:
        log.warning("work order %s: could not post its report: %s", work_order.id, exc)
        return False
    await store.update_work_order(work_order.id, {"progress_comment_id": comment_id})
    return True


class CommentReporter:
    """Edits the work order's progress comment at most once per interval; the latest state always lands.

    Progress is written in the background, never on the work order's path (a GitHub edit costs a round trip
    the next step need not wait for): a burst is coalesced into its latest state, written once the interval
    since the last edit is over. The final update lets an edit already on its way land first, waits out the
    interval and is always written. A failed edit is logged.
    """

    def __init__(self, github: GitHubPort, secrets: tuple[str, ...], min_interval: float = 1.0,
                 public_url: str | None = None) -> None:
        self.github = github
        self.public_url = public_url  # AWO_PUBLIC_URL: the comment links the work order's page
        self.secrets = secrets
        self.min_interval = min_interval
        self._last = -min_interval
        self._last_body = ""
        self._held: tuple[WorkOrder, str] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> bool:
        if work_order.progress_comment_id is None or work_order.issue_number is None:
            return False
        body = render_comment(work_order, steps, running=running, answer=answer, secrets=self.secrets,
                              page=page_of(self.public_url, work_order.id))
        if final:
            await self._settle()
            await asyncio.sleep(max(0.0, self._last + self.min_interval - time.monotonic()))
            shown = await self._write(work_order, body)
            return await self._on_pull_request(work_order, steps) and shown
        self._held = (work_order, body)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_held())
        return True

    async def _write_held(self) -> None:
        """Write the latest held progress once the interval allows, until none is held."""
        while self._held is not None:
            await asyncio.sleep(max(0.0, self._last + self.min_interval - time.monotonic()))
            if self._held is None:
                return  # the final update took over
            work_order, body = self._held
            await self._write(work_order, body)

    async def _settle(self) -> None:
        """Before the final update: drop held progress, and let an edit already sent land before it."""
        self._held = None
        if self._writer is not None and not self._writer.done():
            await self._writer

    async def _write(self, work_order: WorkOrder, body: str) -> bool:
        """True once GitHub has this body; a failed edit is logged and never fails the work order."""
        assert work_order.progress_comment_id is not None
        self._held = None
        if body == self._last_body:
            return True
        self._last = time.monotonic()
        thread = thread_of(work_order)
        assert thread is not None
        try:
            await thread.edit(self.github, work_order.progress_comment_id, body)
        except GitHubError as exc:
            log.warning("work order %s: could not update its comment: %s", work_order.id, exc)
            return False
        self._last_body = body
        return True


    async def _on_pull_request(self, work_order: WorkOrder, steps: Sequence[Step]) -> bool:
        """A PR a work order made from an issue gets the run's report too, once (found by its marker when written
        before), so reviewers see how the change was made; True once it is there."""
        if not reports_on_pull_request(work_order):
            return True
        assert work_order.pr_number is not None
        body = pull_request_report(work_order, steps, secrets=self.secrets)
        thread = Thread(work_order.repo_full_name, work_order.pr_number)
        try:
            found = await thread.find(self.github, pull_request_marker(work_order.id))
            if found is None:
                await thread.post(self.github, body)
            else:
                await thread.edit(self.github, found, body)
        except GitHubError as exc:
            log.warning("work order %s: could not write its report on #%d: %s", work_order.id, work_order.pr_number,
                        exc)
            return False
        return True


class ConsoleReporter:
    """For `awo run`: prints each finished step once, and the outcome."""

    def __init__(self) -> None:
        self._printed = 0

    async def show(
        self, work_order: WorkOrder, steps: Sequence[Step], *, running: str | None = None,
        answer: str | None = None, final: bool = False,
    ) -> bool:
        for step in steps[self._printed:]:
            print(step_line(step).replace("**", ""), flush=True)
        self._printed = len(steps)
        if final:
            print(render_comment(work_order, [], answer=answer).split("\n", 1)[1].replace("**", ""), flush=True)
        return True
