"""After the webhook is answered: route the recorded delivery, admit it, queue a work order, say so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.admission import MARKER_PREFIX, Admission, Limits, Refused
from bot.errors import Conflict, GitHubError, StoreUnavailable
from bot.github import GitHubPort
from bot.models import Delivery, Ignored, Repository, Trigger, WorkOrder
from bot.report import render_comment
from bot.reporter import CommentReporter, show_outcome
from bot.store import Store, repository_for
from bot.triggers import TriggerRules, route

log = logging.getLogger(__name__)


def work_order_for(trigger: Trigger, repo: Repository, delivery_id: str, max_attempts: int) -> WorkOrder:
    return WorkOrder(
        repository_url=repo.repository_url,
        user_request=trigger.request,
        repo_full_name=trigger.repo_full_name,
        issue_number=trigger.issue_number,
        trigger_actor=trigger.actor,
        trigger_comment_id=trigger.comment_id,
        delivery_id=delivery_id,
        trigger_key=trigger.trigger_key or None,
        max_attempts=max_attempts,
        metadata={
            "event": f"{trigger.event}.{trigger.action}",
            "issue_title": trigger.issue_title,
            "issue_body": trigger.issue_body,
            "default_branch": repo.default_branch or trigger.default_branch,
            "commands": repo.default_commands,
            "actor_id": trigger.actor_id,
            "installation_id": trigger.installation_id,
        },
    )


class Intake:
    """Turns recorded deliveries into queued work orders, a few at a time, in arrival order."""

    def __init__(
        self, store: Store, github: GitHubPort | None, rules: TriggerRules, max_attempts: int,
        on_queued: Callable[[], None] = lambda: None, secrets: tuple[str, ...] = (),
        limits: Limits = Limits(),  # noqa: B008 - frozen
    ) -> None:
        self.store = store
        self.github = github
        self.rules = rules
        self.max_attempts = max_attempts
        self.on_queued = on_queued
        self.secrets = secrets
        self.admission = Admission(store, limits)
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        # by delivery id: work orders created here whose delivery is not marked yet; a retry resumes, not redoes
        self.queued: dict[str, WorkOrder] = {}

    def submit(self, delivery: Delivery) -> None:
        self.queue.put_nowait(delivery)

    async def recover(self) -> int:
        """Queue deliveries recorded but never processed (the process stopped after answering)."""
        pending = await self.store.unprocessed_deliveries(limit=1000)
        for delivery in pending:
            self.submit(delivery)
        return len(pending)

    async def run(self) -> None:
        while True:
            delivery = await self.queue.get()
            try:
                await self.process(delivery)
            except (StoreUnavailable, GitHubError) as exc:
                log.warning("delivery %s: not processed yet (%s); will retry", delivery.delivery_id, exc)
                asyncio.get_running_loop().call_later(5, self.submit, delivery)

    async def process(self, delivery: Delivery) -> str:
        """Route, admit and queue; record the outcome on the delivery."""
        outcome = await self._decide(delivery)
        await self.store.mark_delivery(delivery.delivery_id, outcome)
        self.queued.pop(delivery.delivery_id, None)
        log.info("delivery %s (%s.%s): %s", delivery.delivery_id, delivery.event, delivery.action, outcome)
        return outcome

    async def _decide(self, delivery: Delivery) -> str:
        if delivery.event == "ping":
            return "ignored: ping"
        routed = route(delivery.event, delivery.payload, self.rules)
        if isinstance(routed, Ignored):
            return f"ignored: {routed.reason}"
        repo = await repository_for(self.store, routed.repo_full_name)
        if self.github is None:
            return "refused: no GitHub credentials are configured"
        refusal = await self.admission.admit(routed, repo, delivery, self.github)
        if isinstance(refusal, Refused) or repo is None:
            if refusal is not None and refusal.tell:
                await self._tell(routed, refusal)
            return f"refused: {refusal.reason if refusal else 'not configured'}"
        return await self._queue(routed, repo, delivery.delivery_id)

    async def _tell(self, trigger: Trigger, refusal: Refused) -> None:
        """Say a limit on the issue once per window, whoever (of several receivers) notices it first."""
        assert self.github is not None
        window = self.admission.limits.max_age_seconds
        if not await self.store.note_refusal(trigger.repo_full_name, trigger.issue_number, window):
            return
        body = (f"{MARKER_PREFIX}refusal -->\n⏸️ @{trigger.actor}, this request was not queued: {refusal.reason}. "
                f"Further refusals on this issue in the next {window / 60:.0f} minutes are not announced.")
        try:
            await self.github.create_comment(trigger.repo_full_name, trigger.issue_number, body)
        except GitHubError as exc:
            log.warning("#%d: could not say the refusal on GitHub: %s", trigger.issue_number, exc)

    async def _queue(self, trigger: Trigger, repo: Repository, delivery_id: str) -> str:
        work_order = self.queued.get(delivery_id) or await self._create(trigger, repo, delivery_id)
        if work_order is None:
            return "duplicate: a work order for this delivery or trigger exists"
        await self._announce(trigger, work_order, delivery_id)
        return f"queued {work_order.id}"

    async def _create(self, trigger: Trigger, repo: Repository, delivery_id: str) -> WorkOrder | None:
        """First: a delivery becomes one work order, once (its unique delivery id decides); None if it has one."""
        work_order = work_order_for(trigger, repo, delivery_id, self.max_attempts)
        try:
            await self.store.create_work_order(work_order)
        except Conflict:
            return None
        self.queued[delivery_id] = work_order
        self.on_queued()
        return work_order

    async def _announce(self, trigger: Trigger, work_order: WorkOrder, delivery_id: str) -> None:
        """The reaction and the comment, then the comment's id on the row; a retry never posts a second one."""
        if work_order.progress_comment_id is None:
            comment_id = await self._acknowledge(trigger, work_order)
            work_order = work_order.model_copy(update={"progress_comment_id": comment_id})
            self.queued[delivery_id] = work_order
        if work_order.progress_comment_id is not None:
            await self._link_comment(work_order, work_order.progress_comment_id)

    async def _link_comment(self, work_order: WorkOrder, comment_id: int) -> None:
        """Store the comment on the row; if a worker already finished meanwhile, show the outcome now."""
        assert self.github is not None
        linked = await self.store.update_work_order(work_order.id, {"progress_comment_id": comment_id})
        if not linked.status.is_active:
            await show_outcome(self.store, CommentReporter(self.github, self.secrets), linked)

    async def _acknowledge(self, trigger: Trigger, work_order: WorkOrder) -> int | None:
        """👀 on the trigger and the one progress comment; a failure here never loses the work order."""
        assert self.github is not None
        try:
            await self.github.add_reaction(trigger.repo_full_name, trigger.issue_number, trigger.comment_id, "eyes")
            comment_id = await self.github.create_comment(
                trigger.repo_full_name, trigger.issue_number, render_comment(work_order, []))
        except GitHubError as exc:
            log.warning("work order %s: could not acknowledge on GitHub: %s", work_order.id, exc)
            return None
        return comment_id
