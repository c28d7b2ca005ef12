"""A work order on real git (bare remote, mirror, worktree) with the fake agent and fake GitHub."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.archon import archon_fields, git_progress
from bot.models import Repository, Status, WorkOrder
from bot.process import Completed
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.gitrepo import branches, git, make_remote, show

REPO = "Codertocat/Hello-World"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "remotes")


async def configured(settings: Settings, remote: Path, github: FakeGitHub, agent: FakeAgent) -> Runtime:
    """A runtime whose store configures the repository, cloned from the bare remote on disk."""
    settings = settings.model_copy(update={"git_protocols": ("https", "file")})
    runtime = build_runtime(settings, github=github, agent=agent, workers=1)
    await runtime.store.open()
    await runtime.store.add_repository(Repository(
        repository_url=f"https://github.com/{REPO}", default_branch="main", clone_url=str(remote)))
    return runtime


@pytest.fixture
async def engine(settings: Settings, github: FakeGitHub, agent: FakeAgent, remote: Path) -> Runtime:
    runtime = await configured(settings, remote, github, agent)
    yield runtime
    await runtime.store.close()


def order(remote: Path, worker_id: str, **changes: object) -> WorkOrder:
    base = WorkOrder(
        repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7,
        user_request="write hello.txt", trigger_actor="Codertocat", progress_comment_id=None,
        metadata={"default_branch": "main", "issue_title": "Say hello", "actor_id": 21031067},
    )
    return base.model_copy(update=changes)


async def claim_and_run(engine: Runtime, work_order: WorkOrder) -> WorkOrder:
    assert engine.worker is not None
    await engine.store.create_work_order(work_order)
    claimed = await engine.store.claim(engine.worker.worker_id, 60)
    assert claimed is not None and claimed.id == work_order.id
    return await engine.worker.work(claimed)


async def test_change_becomes_a_pushed_branch_and_one_pr(engine: Runtime, remote: Path, github: FakeGitHub) -> None:
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(remote, "w", progress_comment_id=comment_id))
    assert done.status is Status.COMPLETED, done.error_message
    branch = f"claude/issue-7-{done.short_id}"
    assert branches(remote) == sorted(["main", branch])
    assert show(remote, branch, "hello.txt") == "hello"
    message = git("log", "-1", "--format=%an <%ae>%n%B", branch, cwd=remote)
    assert "Say hello (#7)" in message
    assert "Co-authored-by: Codertocat <21031067+Codertocat@users.noreply.github.com>" in message
    [(repo, pull, sent)] = github.pulls
    assert (pull.head, sent["base"], pull.draft) == (branch, "main", True)
    assert "Closes #7" in str(sent["body"]) and "Added hello.txt" in str(sent["body"])
    assert done.pr_url == pull.html_url
    body = github.comments[comment_id][2]
    assert "✅ Done" in body and pull.html_url in body and f"<!-- agent-work-order:{done.id} -->" in body
    steps = await engine.store.list_steps(done.id)
    assert [s.step for s in steps] == ["checkout", "plan", "implement", "commit", "push", "pull-request"]
    assert all(s.success for s in steps)
    commit = next(s for s in steps if s.step == "commit")
    assert (commit.output or "").splitlines() == [git("rev-parse", branch, cwd=remote), "hello.txt"]
    assert not (engine.settings.data_dir / "worktrees" / done.id).exists()


async def test_no_change_means_no_branch_and_the_answer_is_reported(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    agent.files.clear()
    agent.answer = "The README already says hello; nothing to change."
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(remote, "w", progress_comment_id=comment_id))
    assert done.status is Status.COMPLETED
    assert branches(remote) == ["main"] and github.pulls == []
    body = github.comments[comment_id][2]
    assert "no changes were needed" in body and "nothing to change" in body


async def test_agent_failure_fails_the_work_order_and_says_why(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    agent.error = "the agent reported an error (error_during_execution): boom"
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(remote, "w", progress_comment_id=comment_id))
    assert done.status is Status.FAILED
    assert "plan: the agent reported an error" in (done.error_message or "")
    assert "❌ Failed" in github.comments[comment_id][2] and "boom" in github.comments[comment_id][2]
    assert branches(remote) == ["main"]


async def test_a_default_branch_the_remote_lacks_fails_the_checkout_and_says_so(
    settings: Settings, github: FakeGitHub, agent: FakeAgent, remote: Path,
) -> None:
    runtime = await configured(settings, remote, github, agent)
    try:
        [repo] = await runtime.store.list_repositories()
        await runtime.store.update_repository(repo.id, {"default_branch": "trunk"})
        done = await claim_and_run(runtime, order(remote, "w"))
        assert done.status is Status.FAILED
        assert "the remote has no branch 'trunk'" in (done.error_message or ""), done.error_message
        assert agent.requests == [] and branches(remote) == ["main"]
    finally:
        await runtime.store.close()


async def test_the_mirror_is_fetched_once_per_work_order_while_the_claim_is_checked(
    engine: Runtime, remote: Path,
) -> None:
    checkout = engine.services.checkout
    calls: list[tuple[str, ...]] = []
    real_run = checkout._run  # every git command goes through it

    async def recording(*args: str, **kwargs: object) -> Completed:
        calls.append(args)
        return await real_run(*args, **kwargs)  # type: ignore[arg-type]

    checkout._run = recording  # type: ignore[method-assign]
    looked_up = 0
    real_list = engine.store.list_repositories

    async def counting() -> list[Repository]:
        nonlocal looked_up
        looked_up += 1
        return await real_list()

    engine.store.list_repositories = counting  # type: ignore[method-assign]
    for issue in (7, 8):
        done = await claim_and_run(engine, order(remote, "w", issue_number=issue))
        assert done.status is Status.COMPLETED
    assert sum(1 for args in calls if "fetch" in args) == 2, calls  # one each: the early one, not the step's too
    assert looked_up == 2  # the configured remote, looked up once per work order (at the claim)


async def test_a_second_work_order_reuses_the_mirror(engine: Runtime, remote: Path, github: FakeGitHub) -> None:
    first = await claim_and_run(engine, order(remote, "w"))
    second = await claim_and_run(engine, order(remote, "w", issue_number=8))
    assert first.status is second.status is Status.COMPLETED
    mirrors = list((engine.settings.data_dir / "mirrors").glob("*.git"))
    assert len(mirrors) == 1
    assert len(github.pulls) == 2


async def test_an_existing_pr_for_the_branch_is_reused(engine: Runtime, remote: Path, github: FakeGitHub) -> None:
    work_order = order(remote, "w")
    await github.create_pull_request(REPO, head=f"claude/issue-7-{work_order.short_id}", base="main",
                                     title="t", body="b", draft=True)
    done = await claim_and_run(engine, work_order)
    assert done.status is Status.COMPLETED and len(github.pulls) == 1
    assert done.pr_number == 1


async def test_secrets_never_reach_steps_or_comments(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    token = engine.settings.github_token.get_secret_value()  # type: ignore[union-attr]
    agent.error = f"leaked {token} and Authorization: Bearer abc.def"
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(remote, "w", progress_comment_id=comment_id))
    steps = await engine.store.list_steps(done.id)
    everything = " ".join([github.comments[comment_id][2], done.error_message or ""] +
                          [s.error_message or "" for s in steps])
    assert token not in everything and "abc.def" not in everything and "***" in everything


class CrashOnPullRequest(FakeGitHub):
    """The process 'dies' (is cancelled) right after the push, before the PR exists."""

    crashes: int = 1

    async def create_pull_request(self, full_name: str, **kwargs: object):  # type: ignore[override]
        if self.crashes:
            self.crashes -= 1
            raise asyncio.CancelledError
        return await super().create_pull_request(full_name, **kwargs)  # type: ignore[arg-type]


async def test_a_resumed_work_order_reuses_plan_branch_and_comment(settings: Settings, remote: Path) -> None:
    github = CrashOnPullRequest(permissions={"Codertocat": "write"})
    agent = FakeAgent(files={"hello.txt": "hello\n"}, answer="Added hello.txt")
    runtime = await configured(settings, remote, github, agent)
    assert runtime.worker is not None
    comment_id = await github.create_comment(REPO, 7, "queued")
    work_order = await runtime.store.create_work_order(order(remote, "w", progress_comment_id=comment_id))

    first = await runtime.store.claim(runtime.worker.worker_id, 60)
    assert first is not None
    with pytest.raises(asyncio.CancelledError):
        await runtime.worker.work(first)
    assert (await runtime.store.get_work_order(work_order.id)).status is Status.PENDING  # handed back
    assert github.pulls == [] and f"claude/issue-7-{work_order.short_id}" in branches(remote)

    second = await runtime.store.claim(runtime.worker.worker_id, 60)
    assert second is not None and second.attempt == 2
    done = await runtime.worker.work(second)
    steps = await runtime.store.list_steps(done.id)
    await runtime.store.close()

    assert done.status is Status.COMPLETED and len(github.pulls) == 1
    assert len(agent.requests) == 2  # plan and implement ran once each, in the first attempt
    assert [(s.step, s.attempt) for s in steps] == [
        ("checkout", 1), ("plan", 1), ("implement", 1), ("commit", 1), ("push", 1),
        ("checkout", 2), ("pull-request", 2)]
    on_issue = [body for _, issue, body in github.comments.values() if issue == 7]
    assert len(on_issue) == 1 and "✅ Done" in github.comments[comment_id][2]
    [made] = [body for _, issue, body in github.comments.values() if issue == github.pulls[0][1].number]
    assert f"{done.id}:pull-request" in made and "How this change was made" in made  # the run's report, on its PR
    assert git("log", "--format=%s", f"claude/issue-7-{done.short_id}", cwd=remote).count("Say hello") == 1


async def test_a_pushed_work_order_shows_archons_git_counts(engine: Runtime, remote: Path) -> None:
    done = await claim_and_run(engine, order(remote, "w"))
    assert done.status is Status.COMPLETED, done.error_message
    fields = archon_fields(done)
    assert (fields["git_commit_count"], fields["git_files_changed"], fields["current_phase"]) == (1, 1, "completed")
    assert git_progress(done)["git_branch_name"] == f"claude/issue-7-{done.short_id}"


async def test_the_progress_comment_links_the_work_orders_page_with_a_public_url(
    settings: Settings, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    linked = settings.model_copy(update={"public_url": "https://awo.example.com"})
    runtime = await configured(linked, remote, github, agent)
    try:
        comment_id = await github.create_comment(REPO, 7, "queued")
        done = await claim_and_run(runtime, order(remote, "w", progress_comment_id=comment_id))
    finally:
        await runtime.store.close()
    body = github.comments[comment_id][2]
    assert "✅ Done" in body and f"](https://awo.example.com/work-orders/{done.id})" in body
