"""After the webhook is answered: route the recorded delivery, admit it, queue a work order, say so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.admission import MARKER_PREFIX, Admission, Limits, Refused, pull_request_refusal
from bot.commands import Commands
from bot.errors import BotError, Conflict, GitHubError, StoreUnavailable
from bot.github import GitHubPort, PullRequest, note_installation
from bot.logs import fields
from bot.metrics import Metrics
from bot.models import Delivery, Ignored, Repository, Status, Trigger, WorkOrder
from bot.repo_configs import RepoConfigs, admitted_config
from bot.report import page_of, redact, render_comment
from bot.reporter import CommentReporter, show_outcome
from bot.store import ListFilter, Store, repository_for
from bot.texts import branch_name
from bot.threads import thread_for
from bot.triggers import TriggerRules, route

log = logging.getLogger(__name__)


def work_order_for(
    trigger: Trigger, repo: Repository, delivery_id: str, max_attempts: int, branch: str | None = None,
    pull: PullRequest | None = None,
) -> WorkOrder:
    """`branch`: the branch the work order continues (a pull request's own, whose PR is reused, not opened);
    `pull`: the pull request the trigger was made on."""
    return WorkOrder(
        repository_url=repo.repository_url,
        git_branch_name=branch,
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
            "asked_at": trigger.occurred_at.isoformat() if trigger.occurred_at else None,
            **(pull_request_metadata(trigger, pull) if pull is not None else {}),
        },
    )


def pull_request_metadata(trigger: Trigger, pull: PullRequest) -> dict[str, object]:
    """What a work order on a pull request needs: its number and base (the agent's configuration is pinned to
    the base branch), and for a review comment the thread its progress comment replies in and the lines asked
    about."""
    meta: dict[str, object] = {"pull_request": pull.number, "base_branch": pull.base or None}
    if trigger.comment_kind == "review_comment" and trigger.thread_id is not None:
        meta["reply_to"] = {"kind": "review_comment", "thread": trigger.thread_id}
    if trigger.review_location is not None:
        meta["review_location"] = trigger.review_location.model_dump()
    return meta


# A transient failure is retried this many times, then recorded (while the store is down, at the last pace).
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def is_transient(exc: BotError) -> bool:
    """Worth another try later: the store is down, GitHub timed out or answered 5xx/429 or not JSON."""
    if isinstance(exc, StoreUnavailable):
        return True
    return isinstance(exc, GitHubError) and (exc.status is None or exc.status >= 500 or exc.status == 429)


@dataclass(frozen=True)
class Course:
    """Where an admitted trigger's work goes: the branch it continues (None: one of its own) and the pull request
    it was made on; or why it cannot run."""

    refusal: Refused | None
    branch: str | None = None
    pull: PullRequest | None = None
    config: dict[str, object] | None = None  # the repository's configuration, as the work order stores it


@dataclass
class IntakeState:
    """What /health says about intake."""

    status: str = "running"  # "running", or "restarting" after the loop itself failed
    failed: int = 0
    restarts: int = 0
    last_error: str | None = None


class Intake:
    """Turns recorded deliveries into queued work orders, a few at a time, in arrival order.

    A delivery that fails is recorded as `failed: <reason>` and intake goes on; a transient failure is
    retried with backoff first. Intake never stops for one delivery: that once let a single malformed
    payload stop every later one.
    """

    def __init__(
        self, store: Store, github: GitHubPort | None, rules: TriggerRules, max_attempts: int,
        on_queued: Callable[[], None] = lambda: None, secrets: tuple[str, ...] = (),
        limits: Limits = Limits(),  # noqa: B008 - frozen
        retry_delays: tuple[float, ...] = RETRY_DELAYS, continue_pull_requests: bool = True,
        bot_login: str | None = None, configs: RepoConfigs | None = None,
        claimant: Callable[[WorkOrder], WorkOrder] | None = None, public_url: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.public_url = public_url  # AWO_PUBLIC_URL: comments link the work order's page
        # `awo action`: each work order is created already leased to the one process that runs it (no worker of a
        # shared store's fleet can take it); the server's intake leaves them pending for any worker
        self.claimant = claimant
        self.metrics = metrics or Metrics()  # deliveries by event and outcome, intake failures
        self.configs = configs  # per-repository configuration (bot/repo_configs.py); None: the operator's only
        self.store = store
        self.bot_login = bot_login
        self.continue_pull_requests = continue_pull_requests
        self.github = github
        self.rules = rules
        self.max_attempts = max_attempts
        self.on_queued = on_queued
        self.secrets = secrets
        self.admission = Admission(store, limits, bot_login=bot_login)
        self.commands = Commands(store, self.admission, max_attempts, secrets, on_queued, public_url)
        self.retry_delays = retry_delays
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.state = IntakeState()
        # by delivery id: work orders created here whose delivery is not marked yet; a retry resumes, not redoes
        self.queued: dict[str, WorkOrder] = {}
        self.tries: dict[str, int] = {}  # by delivery id: transient failures so far
        self.waiting = 0  # deliveries waiting for a retry

    def submit(self, delivery: Delivery) -> None:
        self.queue.put_nowait(delivery)

    @property
    def backlog(self) -> int:
        return self.queue.qsize() + self.waiting

    async def recover(self) -> int:
        """Queue deliveries recorded but never processed (the process stopped after answering)."""
        pending = await self.store.unprocessed_deliveries(limit=1000)
        for delivery in pending:
            self.submit(delivery)
        return len(pending)

    async def run(self) -> None:
        """Consume deliveries forever; should the loop itself fail, say so in /health and start it again."""
        while True:
            try:
                await self._consume()
            except Exception as exc:  # noqa: BLE001 - the supervisor: nothing may end intake
                self.state.status, self.state.last_error = "restarting", self._reason(exc)
                self.state.restarts += 1
                log.exception("intake stopped (%s); restarting it", self.state.last_error)
                await asyncio.sleep(min(5.0, 0.1 * 2 ** min(self.state.restarts, 6)))

    async def _consume(self) -> None:
        while True:
            delivery = await self.queue.get()
            self.state.status = "running"
            await self.handle(delivery)

    async def handle(self, delivery: Delivery) -> None:
        """One delivery, one unit of work: processed, retried later, or recorded as failed."""
        try:
            await self.process(delivery)
        except BotError as exc:
            if is_transient(exc) and self._retry(delivery, exc):
                return
            await self._fail(delivery, exc)
        except Exception as exc:  # noqa: BLE001 - one broad except per unit of work; recorded on the delivery
            log.exception("delivery %s: unexpected failure", delivery.delivery_id)
            await self._fail(delivery, exc)

    def _retry(self, delivery: Delivery, exc: BotError) -> bool:
        """Try again later with backoff; False once the retries are used up."""
        tries = self.tries.get(delivery.delivery_id, 0)
        if tries >= len(self.retry_delays):
            return False
        self.tries[delivery.delivery_id] = tries + 1
        delay = self.retry_delays[tries]
        log.warning("delivery %s: not processed yet (%s); retry %d in %gs", delivery.delivery_id, exc, tries + 1, delay)
        self.waiting += 1
        asyncio.get_running_loop().call_later(delay, self._resubmit, delivery)
        return True

    def _resubmit(self, delivery: Delivery) -> None:
        self.waiting -= 1
        self.submit(delivery)

    async def _fail(self, delivery: Delivery, exc: Exception) -> None:
        """Record the failure on the delivery, so it is visible and never re-queued at the next start."""
        reason = self._reason(exc)
        self.tries.pop(delivery.delivery_id, None)
        self.state.last_error = f"delivery {delivery.delivery_id}: {reason}"
        try:
            await self.store.mark_delivery(delivery.delivery_id, f"failed: {reason}")
        except StoreUnavailable as down:
            # Nothing can be recorded while the store is down, so nothing is lost by trying again later
            # (a long outage must not leave deliveries waiting for the next start).
            log.warning("delivery %s: store unavailable (%s); trying again later", delivery.delivery_id, down)
            self.waiting += 1
            asyncio.get_running_loop().call_later(self.retry_delays[-1], self._resubmit, delivery)
            return
        self.queued.pop(delivery.delivery_id, None)
        self.state.failed += 1
        self.metrics.delivery(delivery.event, "failed")
        self.metrics.intake_failure(delivery.event)
        log.error("delivery %s (%s.%s) failed: %s", delivery.delivery_id, delivery.event, delivery.action, reason,
                  extra={"delivery_id": delivery.delivery_id, "repo": delivery.repo_full_name or None})

    def _reason(self, exc: BaseException) -> str:
        text = str(exc) if isinstance(exc, BotError) else f"{type(exc).__name__}: {exc}"
        return redact(" ".join(text.split()), self.secrets)[:300] or type(exc).__name__

    async def process(self, delivery: Delivery) -> str:
        """Route, admit and queue; record the outcome on the delivery."""
        outcome = await self._decide(delivery)
        await self.store.mark_delivery(delivery.delivery_id, outcome)
        self.metrics.delivery(delivery.event, outcome)
        self.queued.pop(delivery.delivery_id, None)
        self.tries.pop(delivery.delivery_id, None)
        log.info("delivery %s (%s.%s): %s", delivery.delivery_id, delivery.event, delivery.action, outcome,
                 extra={"delivery_id": delivery.delivery_id, "repo": delivery.repo_full_name or None})
        return outcome

    async def _decide(self, delivery: Delivery) -> str:
        if delivery.event == "ping":
            return "ignored: ping"
        routed = route(delivery.event, delivery.payload, await self._rules_for(delivery))
        if isinstance(routed, Ignored):
            return f"ignored: {routed.reason}"
        repo = await repository_for(self.store, routed.repo_full_name, routed.html_url)
        if self.github is None:
            return "refused: no GitHub credentials are configured"
        note_installation(self.github, routed.repo_full_name, routed.installation_id)
        if routed.assignee is not None and not await self._assigned_to_bot(routed.assignee, self.github):
            return f"ignored: assigned to {routed.assignee}, not to the bot"
        if routed.command is not None:  # stop, retry, a removed label: never a request, never an agent run
            return await self.commands.dispatch(routed, repo, delivery, self.github)
        refusal = await self.admission.admit(routed, repo, delivery, self.github)
        course = Course(refusal)
        if refusal is None and repo is not None:
            course = await self._course_of(routed, self.github)
        if course.refusal is None and repo is not None and self.configs is not None:
            config = await admitted_config(self.configs, self.github, routed)
            course = Course(Refused(config), course.branch, course.pull) if isinstance(config, str) else \
                Course(None, course.branch, course.pull, config)
        if course.refusal is not None or repo is None:
            if course.refusal is not None and course.refusal.tell:
                await self._tell(routed, course.refusal)
            return f"refused: {course.refusal.reason if course.refusal else 'not configured'}"
        return await self._queue(routed, repo, delivery.delivery_id, course)

    async def _rules_for(self, delivery: Delivery) -> TriggerRules:
        """The trigger phrase and label of the delivery's repository: its own if it may choose them."""
        if self.configs is None or self.github is None or not self.rules.repo_overrides:
            return self.rules
        if await repository_for(self.store, delivery.repo_full_name) is None:
            return self.rules
        return await self.configs.rules(self.github, delivery.repo_full_name, self.rules)

    async def _assigned_to_bot(self, assignee: str, github: GitHubPort) -> bool:
        """Assigning an issue or PR to the bot's own login asks for work; to anyone else, not."""
        login = self.bot_login or await github.viewer_login()
        return login is not None and assignee.lower() == login.lower()

    async def _course_of(self, trigger: Trigger, github: GitHubPort) -> Course:
        """The branch an admitted trigger's work order continues (None: one of its own), or why it cannot run:
        on a PR, the PR's own branch if the bot may push there; on an issue, the one its work goes on in."""
        if trigger.is_pull_request:
            pull = await github.get_pull_request(trigger.repo_full_name, trigger.issue_number)
            refusal = pull_request_refusal(trigger.repo_full_name, trigger.default_branch, pull)
            return Course(refusal, pull.head, pull)
        return Course(None, await self._continued_branch(trigger, github))

    async def _continued_branch(self, trigger: Trigger, github: GitHubPort) -> str | None:
        """Where a new request on an issue goes on (one branch, one PR per issue), unless
        AWO_CONTINUE_PULL_REQUESTS is off: the branch of an earlier work order still waiting or running on the
        issue (it runs first, one at a time per issue, so this one resumes from what it pushed and finds its
        PR), else the branch of the still-open PR an earlier one opened."""
        if not self.continue_pull_requests:
            return None
        earlier = await self.store.list_work_orders(
            None, 20, where=ListFilter(trigger.repo_full_name, trigger.issue_number))
        active = next((w for w in earlier if w.status in (Status.PENDING, Status.RUNNING)), None)
        if active is not None:
            return branch_name(active)
        opened = next((w for w in earlier if w.status is Status.COMPLETED and w.pr_number and w.git_branch_name),
                      None)
        if opened is None or opened.pr_number is None:
            return None
        pull = await github.get_pull_request(trigger.repo_full_name, opened.pr_number)
        refusal = pull_request_refusal(trigger.repo_full_name, trigger.default_branch, pull)
        same = pull.head == opened.git_branch_name and refusal is None
        return pull.head if same else None

    async def _tell(self, trigger: Trigger, refusal: Refused) -> None:
        """Say a limit on the issue once per window, whoever (of several receivers) notices it first."""
        assert self.github is not None
        window = self.admission.limits.max_age_seconds
        if not await self.store.note_refusal(trigger.repo_full_name, trigger.issue_number, window):
            return
        body = (f"{MARKER_PREFIX}refusal -->\n⏸️ @{trigger.actor}, this request was not queued: {refusal.reason}. "
                f"Further refusals on this issue in the next {window / 60:.0f} minutes are not announced.")
        try:
            await thread_for(trigger).post(self.github, body)
        except GitHubError as exc:
            log.warning("#%d: could not say the refusal on GitHub: %s", trigger.issue_number, exc)

    async def _queue(self, trigger: Trigger, repo: Repository, delivery_id: str, course: Course) -> str:
        work_order = self.queued.get(delivery_id) or await self._create(trigger, repo, delivery_id, course)
        if work_order is None:
            return "duplicate: a work order for this delivery or trigger exists"
        await self._announce(trigger, work_order, delivery_id)
        return f"queued {work_order.id}"

    async def _create(self, trigger: Trigger, repo: Repository, delivery_id: str, course: Course) -> WorkOrder | None:
        """First: a delivery becomes one work order, once (its unique delivery id decides); None if it has one."""
        work_order = work_order_for(trigger, repo, delivery_id, self.max_attempts, course.branch, course.pull)
        work_order.metadata.update(course.config or {})
        if self.claimant is not None:
            work_order = self.claimant(work_order)
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
            shown = await show_outcome(self.store, CommentReporter(self.github, self.secrets,
                                                                        public_url=self.public_url), linked)
            if shown and linked.report_pending:
                await self.store.mark_reported(linked)

    async def _acknowledge(self, trigger: Trigger, work_order: WorkOrder) -> int | None:
        """👀 on the trigger and the one progress comment; a failure here never loses the work order."""
        assert self.github is not None
        try:
            await self.github.add_reaction(trigger.repo_full_name, trigger.issue_number, trigger.comment_id, "eyes",
                                           kind=trigger.comment_kind)
            queued = render_comment(work_order, [], page=page_of(self.public_url, work_order.id))
            comment_id = await thread_for(trigger).post(self.github, queued)
        except GitHubError as exc:
            log.warning("work order %s: could not acknowledge on GitHub: %s", work_order.id, exc,
                        extra=fields(work_order))
            return None
        return comment_id
