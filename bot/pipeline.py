"""One step runner executes any step of a work order, records it and reports progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot import prompting
from bot.agent import AgentRequest, AgentResult, AgentRunner
from bot.checkout import Checkout, Identity, Worktree
from bot.context import PullContext
from bot.context_run import is_on_pull_request, on_pull_request, read_context, read_pull_request, start_reading
from bot.errors import BotError, GitError, GitHubError, LeaseLost, StoreUnavailable
from bot.github import GitHubPort, PullRequest, note_installation
from bot.metrics import Metrics
from bot.models import LogEntry, Step, WorkOrder, utcnow
from bot.repo_config import configured, pr_mode, protected
from bot.report import redact
from bot.reporter import Reporter, linked_comment
from bot.secret_scan import scan_diff
from bot.spend import Budget, dollars, run_cap
from bot.steps import COMMIT, IMPLEMENT, PLAN, PULL_REQUEST, PUSH, Kind, StepSpec, sequence
from bot.store import Store, repository_for
from bot.texts import TOOL_LOG, branch_name, commit_message, pr_body, stored_prompt, title_of, with_tool_log, within
from bot.worklog import WorkLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    model: str = "claude-sonnet-4-5"
    max_turns: int = 30
    step_timeout: float = 1800
    context_budget: int = 60_000  # characters of a pull request's context in a prompt
    max_run_usd: float | None = None  # AWO_MAX_RUN_USD: a work order's cap, unless its metadata sets its own


@dataclass
class Services:
    """What a work order needs from the outside world, wired once."""

    store: Store
    checkout: Checkout
    agent: AgentRunner
    github: GitHubPort | None
    limits: Limits = field(default_factory=Limits)
    identity: Identity = field(default_factory=lambda: Identity("Agent Work Orders", "awo@localhost"))
    draft: bool = True
    secrets: tuple[str, ...] = ()
    local_remote: str | None = None  # `awo run` only: the path or URL its caller named, not a stored value
    author: Callable[[], Awaitable[Identity | None]] | None = None  # a GitHub App's bot user, asked when committing
    public_url: str | None = None  # AWO_PUBLIC_URL: the progress comment links the work order's page
    metrics: Metrics = field(default_factory=Metrics)  # the process's counters (bot/metrics.py)

    log_observer: Callable[[LogEntry], None] | None = None  # `awo run`: its progress display

    @property
    def work_log(self) -> WorkLog:
        return WorkLog(self.store, self.secrets, self.log_observer)


@dataclass
class StepOutcome:
    output: str = ""
    error: str | None = None
    session_id: str | None = None
    cost_usd: float | None = None
    num_turns: int | None = None
    prompt: str | None = None  # what an agent step asked the agent, whole (redacted and cut when recorded)


@dataclass
class Run:
    """One attempt at a work order."""

    work_order: WorkOrder
    worker_id: str | None
    reporter: Reporter
    prior: dict[str, Step] = field(default_factory=dict)
    shown: list[Step] = field(default_factory=list)
    tree: Worktree | None = None
    plan: str = ""
    summary: str = ""
    changed: list[str] = field(default_factory=list)
    order: int = 0
    pull_lookup: asyncio.Task[PullRequest | None] | None = None  # started with the push
    claimed_at: float = field(default_factory=time.time)
    warming: asyncio.Task[tuple[str, str | None]] | None = None  # the remote's look-up and fetch, from the claim
    context: asyncio.Task[PullContext] | None = None  # a pull request's conversation, read from the claim on
    pull: asyncio.Task[PullRequest] | None = None  # the pull request itself, read at the claim (checked, then shown)

    def stop_reading(self) -> None:
        """The PR's reads are no longer needed (the agent steps are over, or never ran): cancelled if still going."""
        for reading in (self.context, self.pull):
            if reading is not None:
                reading.cancel()

    @property
    def publish(self) -> bool:
        return bool(self.work_order.metadata.get("publish", True))


class StepFailed(BotError):
    """A step did not succeed; the work order fails with its message."""


Handler = Callable[[StepSpec, Run], Awaitable[StepOutcome]]


class Pipeline:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.handlers: dict[str, Handler] = {
            "checkout": self.checkout, "commit": self.commit, "push": self.push, "pull-request": self.pull_request,
        }

    async def execute(self, run: Run) -> None:
        """Run every step in order; raises StepFailed at the first failure. The worktree is always removed."""
        earlier = await self.s.store.list_steps(run.work_order.id)
        run.prior = {s.step: s for s in earlier if s.success and s.attempt < run.work_order.attempt}
        run.order = max((s.step_order for s in earlier), default=0)
        try:
            for spec in sequence(run.work_order.metadata.get("commands"), run.publish and self.s.github is not None):
                await self._maybe_run(spec, run)
        finally:
            run.stop_reading()
            if run.tree is not None:
                await self.s.checkout.remove(run.tree)

    async def _maybe_run(self, spec: StepSpec, run: Run) -> None:
        if spec in (PUSH, PULL_REQUEST) and not run.changed:
            return
        if spec is PULL_REQUEST and pr_mode(run.work_order.metadata, self.s.draft) == "none":
            return
        reused = self._reusable(spec, run)
        if reused is not None:
            self._adopt(spec, reused, run)
            return
        await self.run_step(spec, run)

    def _reusable(self, spec: StepSpec, run: Run) -> Step | None:
        """An earlier attempt's step whose result still holds: a plan, or work already pushed."""
        if spec is PLAN:
            return run.prior.get(PLAN.name)
        pushed = run.tree is not None and run.tree.resumed and PUSH.name in run.prior
        if spec in (IMPLEMENT, COMMIT, PUSH) and pushed:
            return run.prior.get(spec.name)
        return None

    def _adopt(self, spec: StepSpec, step: Step, run: Run) -> None:
        log.info("work order %s: reusing %s from attempt %d", run.work_order.id, spec.name, step.attempt)
        run.shown.append(step)
        self._absorb(spec, step.output or "", run)

    def _absorb(self, spec: StepSpec, output: str, run: Run) -> None:
        output = output.split(TOOL_LOG)[0].strip()
        if spec is PLAN:
            run.plan = output
        elif spec is IMPLEMENT:
            run.summary = output
        elif spec is COMMIT:
            run.changed = [line for line in output.splitlines()[1:] if line]

    async def run_step(self, spec: StepSpec, run: Run) -> None:
        """Execute, time and record one step; the work order's totals follow."""
        await self._catch_up_comment(run)
        await run.reporter.show(run.work_order, run.shown, running=spec.name)
        executed_at, started = utcnow(), time.monotonic()
        await self.s.work_log.step_started(run.work_order.id, spec.name, run.work_order.attempt)
        if spec.kind is Kind.AGENT:
            outcome = await self.agent_step(spec, run)
        else:
            outcome = await self._guarded(self.handlers[spec.name], spec, run)
        step = await self._record(spec, run, outcome, executed_at, time.monotonic() - started)
        await self.s.work_log.step_finished(run.work_order.id, spec.name, error=step.error_message,
                                            duration=step.duration_seconds, cost_usd=step.cost_usd,
                                            num_turns=step.num_turns)
        if outcome.error is not None:
            raise StepFailed(f"{spec.name}: {outcome.error}")
        self._absorb(spec, step.output or "", run)

    async def _catch_up_comment(self, run: Run) -> None:
        """Claimed before its receiver linked the queued comment: the link is read again as steps and tool uses go
        by, so progress shows as soon as it lands, not only in the final report."""
        wo = run.work_order
        if wo.progress_comment_id is None and wo.delivery_id is not None and run.publish:
            run.work_order = await linked_comment(self.s.store, wo)

    async def _guarded(self, handler: Handler, spec: StepSpec, run: Run) -> StepOutcome:
        try:
            return await handler(spec, run)
        except (LeaseLost, StoreUnavailable):
            raise  # not the step's failure: the work order is someone else's, or the store is away
        except BotError as exc:
            return StepOutcome(error=str(exc))

    async def _record(
        self, spec: StepSpec, run: Run, outcome: StepOutcome, executed_at: Any, duration: float
    ) -> Step:
        run.order += 1
        wo = run.work_order
        step = Step(
            agent_work_order_id=wo.id, step=spec.name, agent_name=spec.agent_name,
            success=outcome.error is None, output=redact(outcome.output, self.s.secrets),
            error_message=redact(outcome.error, self.s.secrets) if outcome.error else None,
            duration_seconds=round(duration, 3), session_id=outcome.session_id, executed_at=executed_at,
            step_order=run.order, cost_usd=outcome.cost_usd, num_turns=outcome.num_turns, attempt=wo.attempt,
            prompt=stored_prompt(outcome.prompt, self.s.secrets) if outcome.prompt is not None else None,
        )
        await self.s.store.add_step(step)
        self.s.metrics.step(spec.name, duration, step.success)
        run.shown.append(step)
        if outcome.cost_usd or outcome.num_turns:
            await self.update(run, {
                "total_cost_usd": round(wo.total_cost_usd + (outcome.cost_usd or 0), 6),
                "num_turns": wo.num_turns + (outcome.num_turns or 0),
                "agent_session_id": outcome.session_id or wo.agent_session_id,
            })
        return step

    async def update(self, run: Run, changes: dict[str, Any]) -> None:
        run.work_order = await self.s.store.update_work_order(run.work_order.id, changes, owner=run.worker_id)

    # the steps

    async def agent_step(self, spec: StepSpec, run: Run) -> StepOutcome:
        assert run.tree is not None, "checkout runs before any agent step"
        limits = self.s.limits
        try:
            context = await read_context(run.context)
        except GitHubError as exc:
            return StepOutcome(error=f"could not read the pull request's conversation: {exc}")
        budget = await self._budget(run)
        if budget is not None and budget.remaining <= 0:
            return StepOutcome(error=f"not started: the steps before it spent {dollars(budget.spent_before)} "
                                     f"of the work order's {dollars(budget.cap)} cap")
        request = AgentRequest(
            prompt=prompting.render(spec.template or "", run.work_order, plan=run.plan, context=context),
            cwd=run.tree.path,
            model=limits.model, max_turns=limits.max_turns, allowed_tools=spec.tools, timeout=limits.step_timeout,
            budget=budget,
        )
        request = configured(request, run.work_order.metadata)
        tree, logged = run.tree, 0

        async def progress(result: AgentResult) -> None:
            nonlocal logged
            last = within(run.tree.path, result.tool_uses[-1]) if run.tree and result.tool_uses else ""
            so_far = run.work_order.total_cost_usd + result.cost_usd  # earlier steps, and this one's so far
            for use in result.tool_uses[logged:]:  # each as it happens, also on another machine than the API's
                await self.s.work_log.tool_use(run.work_order.id, spec.name, within(tree.path, use), so_far)
            logged = len(result.tool_uses)
            await self._catch_up_comment(run)
            await run.reporter.show(run.work_order, run.shown, running=f"{spec.name} · {last}" if last else spec.name)

        result = await self.s.agent.run(request, on_progress=progress)
        return StepOutcome(
            output=with_tool_log(result.result_text, [within(run.tree.path, use) for use in result.tool_uses]),
            error=result.error, session_id=result.session_id,
            cost_usd=result.cost_usd, num_turns=result.num_turns, prompt=request.prompt,
        )

    async def _budget(self, run: Run) -> Budget | None:
        """The work order's cap, noted in its metadata once (the final report shows the cost against it)."""
        wo = run.work_order
        cap = run_cap(self.s.limits.max_run_usd, wo.metadata)
        if cap is None:
            return None
        if wo.metadata.get("cost_cap_usd") != cap:
            await self.update(run, {"metadata": {**wo.metadata, "cost_cap_usd": cap}})
        return Budget(cap, run.work_order.total_cost_usd)

    def warm(self, run: Run) -> None:
        """Look up the remote and start the mirror's fetch at the claim, while the claim's GitHub calls are under
        way (a fetch of the configured repository: nothing of the work order runs), readying a pool slot for the
        work order meanwhile; the checkout step then need not do any of it again. A slot readied for a work order
        that ends before its checkout step is freed."""
        wo = run.work_order
        note_installation(self.s.github, wo.repo_full_name, wo.metadata.get("installation_id"))

        async def fetch() -> tuple[str, str | None]:
            remote = await self._remote(wo)
            token = await self.s.github.git_token(wo.repo_full_name) if self.s.github else None
            with contextlib.suppress(GitError):  # the checkout step fetches again, and says why
                await self.s.checkout.refresh(remote[0], token, branch_name(wo), wo.id, remote[1],
                                              is_on_pull_request(wo))
            return remote

        run.warming = asyncio.create_task(fetch())
        run.warming.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failure: the step says it
        if self.s.github is not None:
            run.pull = read_pull_request(self.s.github, wo)
            run.context = start_reading(self.s.github, wo, self.s.limits.context_budget, run.pull)
        owner = asyncio.current_task()
        if owner is not None:
            owner.add_done_callback(lambda _: self._forget_readied(run))

    def _forget_readied(self, run: Run) -> None:
        """When the work order's task ends: free a slot readied for it and never taken, once warming is over."""
        if run.warming is None or run.warming.done():
            self.s.checkout.forget(run.work_order.id)
        else:
            run.warming.add_done_callback(lambda _: self.s.checkout.forget(run.work_order.id))

    async def checkout(self, spec: StepSpec, run: Run) -> StepOutcome:
        wo = run.work_order
        token = await self.s.github.git_token(wo.repo_full_name) if self.s.github else None
        clone_url, default_branch = await self._warmed_remote(run)
        run.tree = await self.s.checkout.prepare(clone_url, branch_name(wo), wo.id, default_branch, token,
                                                 fresh_since=run.claimed_at, pull_request=is_on_pull_request(wo))
        await self.update(run, {"git_branch_name": run.tree.branch, "sandbox_identifier": str(run.tree.path)})
        base = on_pull_request(wo)
        if base is not None:
            run.tree = await self.s.checkout.pin_agent_config(run.tree, base)
        resumed = " (resumed from the remote branch)" if run.tree.resumed else ""
        pinned = f"; {', '.join(run.tree.pinned)} as on `{base}`" if run.tree.pinned else ""
        return StepOutcome(output=f"{run.tree.branch} from {run.tree.base[:12]}{resumed}{pinned}")

    async def _warmed_remote(self, run: Run) -> tuple[str, str | None]:
        """The remote looked up at the claim; asked again if that look-up failed (or never ran), so that its
        failure is this step's error."""
        if run.warming is not None:
            with contextlib.suppress(BotError):
                return await run.warming
        return await self._remote(run.work_order)

    async def _remote(self, wo: WorkOrder) -> tuple[str, str | None]:
        """Clone from the configured repository, never from a request, a payload or a stored row's metadata."""
        if self.s.local_remote:
            return self.s.local_remote, wo.metadata.get("default_branch")
        repo = await repository_for(self.s.store, wo.repo_full_name, wo.repository_url)
        if repo is None or not repo.clone_url:
            raise GitError(f"{wo.repo_full_name or 'this repository'} is not a configured repository (any more)")
        return repo.clone_url, repo.default_branch or wo.metadata.get("default_branch")

    async def commit(self, spec: StepSpec, run: Run) -> StepOutcome:
        assert run.tree is not None
        kept_out = await self.s.checkout.unpin(run.tree)
        if kept_out:
            await self.update(run, {"metadata": {**run.work_order.metadata, "not_committed": kept_out}})
        run.changed, diff = await self.s.checkout.staged_changes(run.tree)
        dropped = protected(run.work_order.metadata, run.changed)
        if dropped:  # the repository's protected paths: their changes are dropped, and the report says so
            await self.s.checkout.drop_changes(run.tree, dropped)
            await self.update(run, {"metadata": {**run.work_order.metadata, "protected_dropped": dropped}})
            run.changed, diff = await self.s.checkout.staged_changes(run.tree)
        if not run.changed:
            return StepOutcome(output="no changes")
        leaks = scan_diff(diff, self.s.secrets)
        if leaks:
            where = ", ".join(sorted({f"{hit.path} ({hit.encoding})" for hit in leaks}))
            return StepOutcome(error=f"the changes contain a secret of the bot's in {where}; nothing was committed")
        author = (await self.s.author() if self.s.author else None) or self.s.identity
        sha = await self.s.checkout.commit(run.tree, commit_message(run.work_order, run.summary), author)
        return StepOutcome(output="\n".join([sha, *run.changed]))

    async def push(self, spec: StepSpec, run: Run) -> StepOutcome:
        assert run.tree is not None
        token = await self.s.github.git_token(run.work_order.repo_full_name) if self.s.github else None
        run.pull_lookup = self._look_up_pull(run)  # while git pushes: the answer does not depend on the push
        try:
            head = await self.s.checkout.push(run.tree, token)
        except GitError as exc:
            raise GitError(f"{NOT_KEPT}\n{exc}") from None
        commits = await self.s.checkout.commits_since_start(run.tree)
        pushed = {"commits": commits, "files_changed": len(run.changed)}  # Archon's git_* fields (bot/archon.py)
        await self.update(run, {"metadata": {**run.work_order.metadata, **pushed}})
        return StepOutcome(output=f"pushed {run.tree.branch} at {head[:12]}")

    def _look_up_pull(self, run: Run) -> asyncio.Task[PullRequest | None] | None:
        """The open PR of the work branch, asked in the background (a PR exists only if the branch did)."""
        if self.s.github is None or run.tree is None or not run.publish:
            return None
        task = asyncio.create_task(self.s.github.find_pull_request(run.work_order.repo_full_name, run.tree.branch))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failure unawaited is not "lost"
        return task

    async def pull_request(self, spec: StepSpec, run: Run) -> StepOutcome:
        assert self.s.github is not None and run.tree is not None
        wo = run.work_order
        repo = wo.repo_full_name
        pull = await (run.pull_lookup or self.s.github.find_pull_request(repo, run.tree.branch))
        verb = "reused"
        if pull is None:
            pull = await self.s.github.create_pull_request(
                repo, head=run.tree.branch, base=run.tree.default_branch or "main",
                title=title_of(wo), body=redact(pr_body(wo, run.summary), self.s.secrets),
                draft=pr_mode(wo.metadata, self.s.draft) == "draft",
            )
            verb = "opened"
        await self.update(run, {"pr_url": pull.html_url, "pr_number": pull.number})
        return StepOutcome(output=f"{verb} #{pull.number} {pull.html_url}")


# The worktree (and the commit in it) is removed when the work order ends, whatever happened: say so.
NOT_KEPT = ("the branch was not pushed, so its commit is not kept (the checkout is removed when the work order "
            "ends; trigger it again to redo the work). Git said:")
