"""Stop and retry as actions: `@claude stop|cancel|retry`, a removed trigger label, the API and `awo`.

One set of actions for every caller, so a stop said on GitHub and one sent to the API end the same way: the
store decides atomically (bot/store: cancel_work_order, retry_work_order), and the issue's comment shows it.
A command is never a request: nothing here starts an agent; a retry queues the same row again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.admission import MARKER_PREFIX, Admission, own_login, permission_check, precheck, too_old
from bot.control import RETRY, RETRYABLE, STOP, UNLABELED
from bot.errors import Conflict, GitHubError
from bot.github import GitHubPort
from bot.models import Delivery, Repository, Status, Trigger, WorkOrder
from bot.report import page_of, render_comment
from bot.reporter import CommentReporter, show_outcome
from bot.store import ListFilter, Store
from bot.threads import thread_for, thread_of
from bot.worklog import LogKind, WorkLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outlet:
    """Where an action's effect is shown: GitHub (None: nowhere, e.g. no credentials) and what to redact."""

    github: GitHubPort | None
    secrets: tuple[str, ...] = ()
    public_url: str | None = None  # AWO_PUBLIC_URL: comments link the work order's page


async def cancel(store: Store, outlet: Outlet, work_order_id: str) -> WorkOrder:
    """Cancel one work order (Conflict if it had ended): a waiting one ends now and its comment says ⏹️; a
    running one is flagged, and the worker holding it (on any machine) stops it within a second or two."""
    work_order = await store.cancel_work_order(work_order_id)
    stopped = work_order.status is Status.CANCELLED
    await WorkLog(store, outlet.secrets).write(
        work_order.id, LogKind.STATUS if stopped else LogKind.NOTE,
        "cancelled: stopped on request" if stopped else "stop requested; the worker running it ends it",
        data={"status": str(Status.CANCELLED)} if stopped else {})
    if stopped and outlet.github is not None:
        await _show_ended(store, outlet, work_order)
    return work_order


async def retry(
    store: Store, outlet: Outlet, work_order_id: str, attempts: int, on_queued: Callable[[], None] = lambda: None,
) -> WorkOrder:
    """Queue a failed or cancelled work order again (Conflict otherwise): the same row, so it continues its branch
    and edits its own comment, which says it waits again."""
    work_order = await store.retry_work_order(work_order_id, attempts)
    await WorkLog(store, outlet.secrets).status(work_order.id, Status.PENDING, "queued again (retry)")
    on_queued()
    thread = thread_of(work_order)
    if outlet.github is not None and thread is not None and work_order.progress_comment_id is not None:
        try:
            await thread.edit(outlet.github, work_order.progress_comment_id,
                              render_comment(work_order, [], secrets=outlet.secrets,
                                             page=page_of(outlet.public_url, work_order.id)))
        except GitHubError as exc:
            log.warning("work order %s: could not say it was retried: %s", work_order.id, exc)
    return work_order


async def _show_ended(store: Store, outlet: Outlet, work_order: WorkOrder) -> None:
    """The final report now; if GitHub does not take it, the outbox (report_pending) tries again later."""
    assert outlet.github is not None
    if await show_outcome(store, CommentReporter(outlet.github, outlet.secrets, min_interval=0,
                                                              public_url=outlet.public_url), work_order):
        await store.mark_reported(work_order)


class Commands:
    """Intake's side: a routed command from GitHub, admitted like a trigger (a writer's, fresh, not the bot's)
    but never counted against the request limits, and answered with a reaction or a short reply."""

    def __init__(self, store: Store, admission: Admission, max_attempts: int, secrets: tuple[str, ...] = (),
                 on_queued: Callable[[], None] = lambda: None, public_url: str | None = None) -> None:
        self.store, self.admission, self.public_url = store, admission, public_url
        self.max_attempts, self.secrets, self.on_queued = max_attempts, secrets, on_queued

    async def dispatch(self, trigger: Trigger, repo: Repository | None, delivery: Delivery, github: GitHubPort) -> str:
        """The delivery's outcome: what the command did, or why it was refused."""
        refusal = await self._refusal(trigger, repo, delivery, github)
        if refusal is not None:
            return f"refused: {refusal}"
        outlet = Outlet(github, self.secrets, self.public_url)
        earlier = await self.store.list_work_orders(
            None, 50, where=ListFilter(trigger.repo_full_name, trigger.issue_number))
        if trigger.command == RETRY:
            return await self._retry(trigger, earlier, outlet)
        waiting_only = trigger.command == UNLABELED
        if trigger.command not in (STOP, UNLABELED):
            return f"ignored: unknown command {trigger.command!r}"
        return await self._stop(trigger, earlier, outlet, waiting_only)

    async def _refusal(self, trigger: Trigger, repo: Repository | None, delivery: Delivery,
                       github: GitHubPort) -> str | None:
        admission = self.admission
        refusal = (precheck(trigger, repo, delivery.payload)
                   or too_old(trigger, delivery.received_at, admission.limits.max_age_seconds)
                   or own_login(trigger, admission.bot_login or await github.viewer_login()))
        if refusal is None:
            role = await admission.roles.of(github, trigger.repo_full_name, trigger.actor)
            refusal = permission_check(trigger.actor, role)
        return refusal.reason if refusal is not None else None

    async def _stop(self, trigger: Trigger, earlier: list[WorkOrder], outlet: Outlet, waiting_only: bool) -> str:
        wanted = (Status.PENDING,) if waiting_only else (Status.PENDING, Status.RUNNING)
        stopped: list[str] = []
        for work_order in (w for w in earlier if w.status in wanted):
            try:
                stopped.append((await cancel(self.store, outlet, work_order.id)).id)
            except Conflict:
                continue  # it ended meanwhile
        if waiting_only:
            return f"stopped {', '.join(stopped)}" if stopped else "ignored: nothing was waiting"
        if stopped:
            await self._react(trigger, outlet)
            return f"stopped {', '.join(stopped)}"
        await self._reply(trigger, outlet, "⏹️ Nothing is running or waiting here, so nothing was stopped.")
        return "ignored: nothing to stop"

    async def _retry(self, trigger: Trigger, earlier: list[WorkOrder], outlet: Outlet) -> str:
        active = next((w for w in earlier if w.status.is_active), None)
        if active is not None:
            await self._reply(trigger, outlet, f"🔁 Not retried: work order `{active.id}` is still {active.status}.")
            return f"ignored: {active.id} is still {active.status}"
        last = next((w for w in earlier if w.status in RETRYABLE), None)
        if last is None:
            await self._reply(trigger, outlet, "🔁 Nothing to retry: no work order here failed or was cancelled.")
            return "ignored: nothing to retry"
        try:
            await retry(self.store, outlet, last.id, self.max_attempts, self.on_queued)
        except Conflict:
            return f"ignored: {last.id} was retried already"
        await self._react(trigger, outlet)
        return f"retried {last.id}"

    async def _react(self, trigger: Trigger, outlet: Outlet) -> None:
        assert outlet.github is not None
        try:
            await outlet.github.add_reaction(trigger.repo_full_name, trigger.issue_number, trigger.comment_id, "+1",
                                             kind=trigger.comment_kind)
        except GitHubError as exc:
            log.warning("#%d: could not react to the %s command: %s", trigger.issue_number, trigger.command, exc)

    async def _reply(self, trigger: Trigger, outlet: Outlet, text: str) -> None:
        assert outlet.github is not None
        body = f"{MARKER_PREFIX}command -->\n@{trigger.actor} {text}"
        try:
            await thread_for(trigger).post(outlet.github, body)
        except GitHubError as exc:
            log.warning("#%d: could not answer the %s command: %s", trigger.issue_number, trigger.command, exc)
