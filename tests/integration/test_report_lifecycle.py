"""Every work order ends with a true report, whatever stops it: real git, SQLite, fake GitHub and agent.

Each test stops a work order at one boundary (GitHub refuses the final edit, the process dies after it,
the receiver dies before linking its comment, the lease is taken over, restarts use up attempts) and
checks what a user sees: the one comment on the issue, the row the API shows, the branch and the PR.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.errors import GitHubError
from bot.models import Repository, Status, WorkOrder
from bot.report import render_comment
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.store import Store
from bot.testing import FakeAgent, FakeGitHub
from bot.worker import Worker, WorkerConfig
from tests.gitrepo import branches, make_remote

REPO = "Codertocat/Hello-World"
FAST = WorkerConfig(concurrency=1, lease_seconds=60, poll_seconds=0.02, report_every=0.05)


class RecordingGitHub(FakeGitHub):
    """Fake GitHub that can refuse edits, and notes the row's status when each final body lands."""

    store: Store | None = None
    refuse_edits: bool = False
    status_at_final: list[Status]

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        if self.refuse_edits:
            raise GitHubError("update comment: GitHub answered 502: Bad Gateway", 502)
        await super().update_comment(full_name, comment_id, body)
        if self.store is not None and ("✅ Done" in body or "❌ Failed" in body):
            work_order_id = body.split("agent-work-order:", 1)[1].split(" ", 1)[0]
            self.status_at_final.append((await self.store.get_work_order(work_order_id)).status)


class DyingAfterFinalEdit(RecordingGitHub):
    """The process dies right after GitHub took the final comment, before the row ends."""

    deaths: int = 1

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        await super().update_comment(full_name, comment_id, body)
        if self.deaths and "✅ Done" in body:
            self.deaths -= 1
            raise asyncio.CancelledError


def github_of(cls: type[RecordingGitHub] = RecordingGitHub) -> RecordingGitHub:
    github = cls(permissions={"Codertocat": "write"})
    github.status_at_final = []
    return github


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "remotes")


@pytest.fixture
async def stack(settings: Settings, remote: Path) -> AsyncIterator[tuple[Runtime, RecordingGitHub]]:
    github = github_of()
    runtime = await configured(settings, remote, github, FakeAgent(files={"hello.txt": "hello\n"}, answer="Added"))
    yield runtime, github
    await runtime.store.close()


async def configured(settings: Settings, remote: Path, github: RecordingGitHub, agent: FakeAgent) -> Runtime:
    settings = settings.model_copy(update={"git_protocols": ("https", "file")})
    runtime = build_runtime(settings, github=github, agent=agent, workers=1)
    await runtime.store.open()
    github.store = runtime.store
    await runtime.store.add_repository(Repository(
        repository_url=f"https://github.com/{REPO}", default_branch="main", clone_url=str(remote)))
    return runtime


def order(**changes: object) -> WorkOrder:
    base = WorkOrder(
        repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7,
        user_request="write hello.txt", trigger_actor="Codertocat",
        metadata={"default_branch": "main", "issue_title": "Say hello", "actor_id": 21031067},
    )
    return base.model_copy(update=changes)


async def queued(runtime: Runtime, github: FakeGitHub, link: bool = True, **changes: object) -> WorkOrder:
    """A work order as a receiver leaves it: the row, then its queued comment (linked unless it died first)."""
    work_order = await runtime.store.create_work_order(order(**changes))
    comment_id = await github.create_comment(REPO, 7, render_comment(work_order, []))
    if link:
        work_order = await runtime.store.update_work_order(work_order.id, {"progress_comment_id": comment_id})
    return work_order


async def run_worker(worker: Worker, done: Callable[[], object], timeout: float = 20) -> None:
    """Run a worker's claim loop until `done()` is true (awaited if it returns an awaitable)."""
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while True:
            result = done()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            assert time.monotonic() < deadline, "the work order did not end in time"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await loop


async def ended(store: Store, work_order_id: str) -> bool:
    work_order = await store.get_work_order(work_order_id)
    return not work_order.status.is_active and not work_order.report_pending


def comments_on_issue(github: FakeGitHub) -> list[str]:
    return [body for repo, issue, body in github.comments.values() if (repo, issue) == (REPO, 7)]


async def test_the_api_never_says_completed_before_the_comment_does(stack: tuple[Runtime, RecordingGitHub]) -> None:
    runtime, github = stack
    work_order = await queued(runtime, github)
    worker = Worker(runtime.services, FAST)
    await run_worker(worker, lambda: ended(runtime.store, work_order.id))
    done = await runtime.store.get_work_order(work_order.id)
    assert done.status is Status.COMPLETED and done.report_pending is False
    assert github.status_at_final == [Status.RUNNING]  # the final comment landed while the row still ran
    [body] = comments_on_issue(github)
    assert "✅ Done" in body and done.pr_url is not None and done.pr_url in body


async def test_a_refused_final_edit_completes_the_work_order_and_is_delivered_later(
    stack: tuple[Runtime, RecordingGitHub], remote: Path,
) -> None:
    runtime, github = stack
    work_order = await queued(runtime, github)
    github.refuse_edits = True
    claimed = await runtime.store.claim("w1", 60)
    assert claimed is not None
    done = await Worker(runtime.services, FAST, "w1").work(claimed)
    assert (done.status, done.report_pending) == (Status.COMPLETED, True)  # GitHub's outage fails nothing
    assert len(github.pulls) == 1 and f"claude/issue-7-{done.short_id}" in branches(remote)
    assert "✅" not in comments_on_issue(github)[0]

    github.refuse_edits = False  # GitHub is back; another process's claim loop delivers the report
    await run_worker(Worker(runtime.services, FAST, "w2"), lambda: ended(runtime.store, work_order.id))
    [body] = comments_on_issue(github)
    assert "✅ Done" in body and github.pulls[0][1].html_url in body


async def test_a_process_dying_after_the_final_edit_still_ends_with_one_true_comment(
    settings: Settings, remote: Path,
) -> None:
    github = github_of(DyingAfterFinalEdit)
    runtime = await configured(settings, remote, github, FakeAgent(files={"hello.txt": "hello\n"}, answer="Added"))
    work_order = await queued(runtime, github)
    first = await runtime.store.claim("w1", 0.5)
    assert first is not None
    with pytest.raises(asyncio.CancelledError):
        await Worker(runtime.services, WorkerConfig(lease_seconds=0.5), "w1").work(first)
    assert (await runtime.store.get_work_order(work_order.id)).status.is_active  # the row never ran ahead
    # its lease expires (0.5 s) and another process takes the work order over
    await run_worker(Worker(runtime.services, FAST, "w2"), lambda: ended(runtime.store, work_order.id))
    done = await runtime.store.get_work_order(work_order.id)
    await runtime.store.close()
    assert done.status is Status.COMPLETED
    [body] = comments_on_issue(github)
    assert "✅ Done" in body and len(github.pulls) == 1


async def test_a_comment_posted_but_never_linked_is_found_by_its_marker(
    stack: tuple[Runtime, RecordingGitHub],
) -> None:
    """The receiver died between posting the queued comment and saving its id."""
    runtime, github = stack
    work_order = await queued(runtime, github, link=False)
    assert work_order.progress_comment_id is None
    await run_worker(Worker(runtime.services, FAST), lambda: ended(runtime.store, work_order.id))
    done = await runtime.store.get_work_order(work_order.id)
    [(comment_id, (_, _, body))] = [(i, c) for i, c in github.comments.items() if c[1] == 7]
    assert done.progress_comment_id == comment_id
    assert "✅ Done" in body
    assert github.status_at_final == [Status.RUNNING]  # found before the first report, not later by the outbox


class LinkingWhileRunning(FakeAgent):
    """The receiver posts and links the queued comment only while the agent already runs (claimed at once)."""

    link: Callable[[], Awaitable[None]] | None = None

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        if self.link is not None:
            await self.link()
            self.link = None
        return await super().run(request, on_progress)


class EveryBody(RecordingGitHub):
    bodies: list[str]

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        await super().update_comment(full_name, comment_id, body)
        self.bodies.append(body)


async def test_a_comment_linked_after_the_claim_shows_progress_before_the_end(
    settings: Settings, remote: Path,
) -> None:
    github = github_of(EveryBody)
    github.bodies = []
    agent = LinkingWhileRunning(files={"hello.txt": "hello\n"}, answer="Added")
    runtime = await configured(settings, remote, github, agent)
    try:
        work_order = await runtime.store.create_work_order(order(delivery_id="d-linked-late"))

        async def receiver_links() -> None:
            comment_id = await github.create_comment(REPO, 7, render_comment(work_order, []))
            await runtime.store.update_work_order(work_order.id, {"progress_comment_id": comment_id})

        agent.link = receiver_links
        worker = Worker(runtime.services, WorkerConfig(concurrency=1, lease_seconds=60, poll_seconds=0.02))
        await run_worker(worker, lambda: ended(runtime.store, work_order.id))
        # linked while the plan step ran: that step's progress shows at once, not at the next step's start
        assert any("**plan** — running…" in body for body in github.bodies), github.bodies
        assert "✅ Done" in github.bodies[-1]
    finally:
        await runtime.store.close()


async def test_work_orders_failed_for_exhausted_attempts_are_reported_on_the_issue(
    stack: tuple[Runtime, RecordingGitHub],
) -> None:
    runtime, github = stack
    work_order = await queued(runtime, github, max_attempts=1)
    assert await runtime.store.claim("a-worker-that-dies", 0) is not None
    await asyncio.sleep(0.01)  # its lease expires
    await run_worker(Worker(runtime.services, FAST), lambda: ended(runtime.store, work_order.id))
    failed = await runtime.store.get_work_order(work_order.id)
    assert failed.status is Status.FAILED
    [body] = comments_on_issue(github)
    assert "❌ Failed" in body and "last allowed attempt (1)" in body


async def test_restarts_that_use_up_attempts_never_wedge_the_issue(stack: tuple[Runtime, RecordingGitHub]) -> None:
    """Three graceful stops during one work order: it ends with a true report, and the next trigger runs."""
    runtime, github = stack
    work_order = await queued(runtime, github)
    for n in range(3):
        claimed = await runtime.store.claim(f"w{n}", 60)
        assert claimed is not None and claimed.id == work_order.id
        worker = Worker(runtime.services, FAST, f"w{n}")
        task = asyncio.create_task(worker.work(claimed))
        await asyncio.sleep(0)  # the stop arrives while it runs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    later = await queued(runtime, github, user_request="and then this")
    await run_worker(Worker(runtime.services, FAST), lambda: ended(runtime.store, later.id))
    first = await runtime.store.get_work_order(work_order.id)
    assert not first.status.is_active and not first.report_pending
    assert ("✅ Done" if first.status is Status.COMPLETED else "❌ Failed") in comments_on_issue(github)[0]
    assert (await runtime.store.get_work_order(later.id)).status is Status.COMPLETED


class SlowAgent(FakeAgent):
    """An agent whose first call hands the lease to another worker (as a takeover would) and then works on."""

    store: Store | None = None
    cancelled: bool = False

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        if not self.requests and self.store is not None:
            running = await self.store.list_work_orders(Status.RUNNING)
            await self.store.update_work_order(running[0].id, {"lease_owner": "another-worker"})
        try:
            await asyncio.sleep(3)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return await super().run(request, on_progress)


async def test_a_worker_whose_lease_was_taken_over_stops_running_the_work_order(
    settings: Settings, remote: Path,
) -> None:
    github = github_of()
    agent = SlowAgent(files={"hello.txt": "hello\n"}, answer="Added")
    runtime = await configured(settings, remote, github, agent)
    agent.store = runtime.store
    work_order = await queued(runtime, github)
    claimed = await runtime.store.claim("w1", 0.3)
    assert claimed is not None
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await Worker(runtime.services, WorkerConfig(lease_seconds=0.3), "w1").work(claimed)
    took = time.monotonic() - started
    row = await runtime.store.get_work_order(work_order.id)
    await runtime.store.close()
    assert agent.cancelled and took < 2  # it stopped at the next heartbeat, not after the agent's step
    assert branches(remote) == ["main"] and github.pulls == []
    assert row.lease_owner == "another-worker"
    assert "✅" not in comments_on_issue(github)[0]


async def test_a_failed_work_order_leaves_no_worktree_behind(settings: Settings, remote: Path) -> None:
    github = github_of()
    agent = FakeAgent(error="the model is overloaded")
    runtime = await configured(settings, remote, github, agent)
    work_order = await queued(runtime, github)
    await run_worker(Worker(runtime.services, FAST), lambda: ended(runtime.store, work_order.id))
    failed = await runtime.store.get_work_order(work_order.id)
    await runtime.store.close()
    assert failed.status is Status.FAILED and "overloaded" in (failed.error_message or "")
    [body] = comments_on_issue(github)
    assert "❌ Failed" in body and "overloaded" in body
    worktree = Path(agent.requests[0].cwd)  # a pool slot: kept, reset to the remote's files, detached
    assert worktree.parent.name == "worktrees"
    assert sorted(p.name for p in worktree.iterdir()) == [".git", "README.md"]
    [mirror] = (runtime.settings.data_dir / "mirrors").glob("*.git")
    assert branches(mirror) == ["main"]  # the work branch went with the worktree
