"""Pushing to a remote like GitHub's: it needs the token, it can refuse, and the comment says what happened."""

from __future__ import annotations

import os
from pathlib import Path

from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.models import Repository, Status, WorkOrder
from bot.runtime import Runtime, build_runtime
from bot.testing import FakeAgent, FakeGitHub
from tests.conftest import make_settings
from tests.gitrepo import branches, make_remote, show
from tests.integration.test_work_orders import claim_and_run
from tests.support.git_http import AuthenticatedGitHost

REPO = "Codertocat/Hello-World"
TOKEN = "ghs_pushAuthTokenThatMustNeverLeak012345"


class RecordingGitHub(FakeGitHub):
    """Keeps every body the progress comment ever had, not only the last."""

    def __init__(self) -> None:
        super().__init__(permissions={"Codertocat": "write"}, token=TOKEN)
        self.bodies: list[str] = []

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        self.bodies.append(body)
        await super().update_comment(full_name, comment_id, body)


class AbsolutePathAgent(FakeAgent):
    """Like the real model: the CLI's Write tool takes absolute paths, so the tool log names the server's folder."""

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        (request.cwd / "hello.txt").write_text("hello\n")
        result = AgentResult(session_id="s", got_result=True, is_error=False, num_turns=1, cost_usd=0.0004,
                             result_text="Wrote hello.txt", tool_uses=[f"Write {request.cwd.resolve()}/hello.txt"])
        if on_progress is not None:
            await on_progress(result)
        return result


async def run_one(runtime: Runtime, github: FakeGitHub, clone_url: str) -> WorkOrder:
    await runtime.store.open()
    await runtime.store.add_repository(Repository(
        repository_url=f"https://github.com/{REPO}", default_branch="main", clone_url=clone_url))
    comment_id = await github.create_comment(REPO, 7, "queued")
    return await claim_and_run(runtime, WorkOrder(
        repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7, trigger_actor="Codertocat",
        user_request="write hello.txt", progress_comment_id=comment_id, metadata={"commands": ["implement"]}))


async def test_a_work_order_pushes_to_a_remote_that_requires_the_token(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "remotes")
    with AuthenticatedGitHost(remote.parent, TOKEN) as host:
        settings = make_settings(tmp_path, git_protocols=("http",), github_web_url=host.url)
        github = RecordingGitHub()
        runtime = build_runtime(settings, github=github, agent=FakeAgent(files={"hello.txt": "hello\n"}), workers=1)
        finished = await run_one(runtime, github, f"{host.url}/{remote.name}")
        await runtime.store.close()

    assert finished.status is Status.COMPLETED, finished.error_message
    assert host.refused == []  # every request (clone, fetch, push) carried the token
    [branch] = [b for b in branches(remote) if b.startswith("claude/")]
    assert show(remote, branch, "hello.txt") == "hello"


async def test_a_refused_push_says_the_commit_is_not_kept_and_the_comment_shows_no_server_path(
    tmp_path: Path,
) -> None:
    remote = make_remote(tmp_path / "remotes")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: pushes need a review' >&2\nexit 1\n")
    os.chmod(hook, 0o755)
    with AuthenticatedGitHost(remote.parent, TOKEN) as host:
        settings = make_settings(tmp_path, git_protocols=("http",), github_web_url=host.url)
        github = RecordingGitHub()
        runtime = build_runtime(settings, github=github, agent=AbsolutePathAgent(), workers=1)
        finished = await run_one(runtime, github, f"{host.url}/{remote.name}")
        steps = await runtime.store.list_steps(finished.id)
        await runtime.store.close()

    assert finished.status is Status.FAILED
    final = github.bodies[-1]
    assert "❌ Failed" in final and "its commit is not kept" in final
    assert "\n```\ngit push failed:" in final and "protected: pushes need a review" in final
    # what the comment says is true: no worktree holds the commit's file (a pool slot is reset when given back)
    assert list((tmp_path / "data" / "worktrees").glob("*/hello.txt")) == []
    [implement] = [s for s in steps if s.step == "implement"]
    assert (implement.output or "").endswith("--- tool log ---\nWrite hello.txt")
    shown = "\n".join(github.bodies) + "\n".join(s.output or "" for s in steps)
    assert str(tmp_path) not in shown and "/worktrees/" not in shown
