"""A repository's `.github/agent-work-orders.yml`, from the trigger to the CLI's argv, the commit and the PR."""

from __future__ import annotations

from pathlib import Path

from bot.agent import cli_argv
from bot.models import Delivery, Status, WorkOrder
from bot.repo_config import CONFIG_PATH
from bot.runtime import Runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.gitrepo import branches, git, show
from tests.payloads import example

from .test_work_orders import REPO, configured, engine, remote

__all__ = ["engine", "remote"]  # fixtures, used by name

CONFIG = """
model: claude-opus-4-1
max_turns: 7
tools: [Read, Grep, Write, Bash]   # Bash is not the operator's to give: narrowed away
pr_mode: ready
branch_prefix: claude/bot-
instructions: Always write British English.
protected_paths: [secrets/]
max_budget_usd: 2.5
"""


async def admit(engine: Runtime, body: str = "@claude write hello", delivery_id: str = "d-1", comment: int = 1
                ) -> str:
    payload = example("issue_comment", "created", comment__body=body, issue__number=7, comment__id=comment)
    delivery = Delivery(delivery_id=delivery_id, event="issue_comment", action="created", repo_full_name=REPO,
                        payload=payload)
    return await engine.intake.process(delivery)


async def run_admitted(engine: Runtime) -> WorkOrder:
    assert engine.worker is not None
    claimed = await engine.store.claim(engine.worker.worker_id, 60)
    assert claimed is not None
    return await engine.worker.work(claimed)


async def test_a_repository_file_narrows_tools_and_sets_the_model_turns_pr_branch_and_protected_paths(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent,
) -> None:
    github.contents[(REPO, CONFIG_PATH)] = CONFIG
    agent.files["secrets/token.txt"] = "not for the agent\n"
    assert (await admit(engine)).startswith("queued")
    done = await run_admitted(engine)
    assert done.status is Status.COMPLETED, done.error_message
    plan, implement = (cli_argv("claude", request) for request in agent.requests)
    for argv in (plan, implement):
        assert argv[argv.index("--model") + 1] == "claude-opus-4-1"
        assert argv[argv.index("--max-turns") + 1] == "7"
    assert plan[plan.index("--tools") + 1] == "Read,Grep"
    assert implement[implement.index("--tools") + 1] == "Read,Grep,Write"  # no Edit, no Bash
    assert "Always write British English." in agent.requests[0].prompt
    assert "repository's own instructions" in agent.requests[0].prompt
    branch = f"claude/bot-issue-7-{done.short_id}"
    assert branches(remote) == sorted(["main", branch])
    assert show(remote, branch, "hello.txt") == "hello"
    assert "secrets/token.txt" not in git("ls-tree", "-r", "--name-only", branch, cwd=remote)  # protected
    assert done.metadata["protected_dropped"] == ["secrets/token.txt"]
    report = github.comments[done.progress_comment_id or 0][2]
    assert "**Not committed:** `secrets/token.txt` — protected by the repository's" in report
    assert github.pulls[0][1].draft is False
    assert done.metadata["config"]["narrowed"] == ["Bash"] and done.metadata["max_budget_usd"] == 2.5


async def test_pr_mode_none_pushes_the_branch_and_opens_no_pull_request(
    engine: Runtime, remote: Path, github: FakeGitHub,
) -> None:
    github.contents[(REPO, CONFIG_PATH)] = "pr_mode: none\n"
    assert (await admit(engine)).startswith("queued")
    done = await run_admitted(engine)
    assert done.status is Status.COMPLETED, done.error_message
    assert f"claude/issue-7-{done.short_id}" in branches(remote) and github.pulls == []


async def test_an_invalid_file_is_answered_with_the_exact_error_and_nothing_is_queued(
    engine: Runtime, github: FakeGitHub,
) -> None:
    github.contents[(REPO, CONFIG_PATH)] = "tools: Read\npr_mode: sometimes\ncolour: blue\n"
    outcome = await admit(engine)
    assert outcome.startswith("refused: .github/agent-work-orders.yml in Codertocat/Hello-World@")
    assert await engine.store.list_work_orders(None, 10) == []
    [(_, issue, body)] = [c for c in github.comments.values()]
    assert issue == 7
    for exact in ("tools: Input should be a valid list",
                  "pr_mode: Input should be 'none', 'draft' or 'ready'",
                  "colour: Extra inputs are not permitted"):
        assert exact in body and exact in outcome
    assert "schema/agent-work-orders.schema.json" in body


async def test_the_organisations_dot_github_file_is_the_fallback(engine: Runtime, github: FakeGitHub) -> None:
    github.contents[("Codertocat/.github", CONFIG_PATH)] = "model: claude-haiku-4-5\n"
    assert (await admit(engine)).startswith("queued")
    [wo] = await engine.store.list_work_orders(None, 10)
    assert wo.metadata["config"]["model"] == "claude-haiku-4-5"
    assert wo.metadata["config"]["source"].startswith("Codertocat/.github@")
    github.contents[(REPO, CONFIG_PATH)] = "model: claude-opus-4-1\n"  # the repository's own file wins
    assert (await admit(engine, delivery_id="d-2", comment=2)).startswith("queued")
    newest = max(await engine.store.list_work_orders(None, 10), key=lambda w: w.created_at)
    assert newest.metadata["config"]["model"] == "claude-opus-4-1"


async def test_a_repository_phrase_replaces_the_operators_where_the_operator_allows_it(
    settings: Settings, remote: Path, github: FakeGitHub, agent: FakeAgent,
) -> None:
    github.contents[(REPO, CONFIG_PATH)] = "trigger: {phrase: '@helper'}\n"
    runtime = await configured(settings.model_copy(update={"repo_triggers": True}), remote, github, agent)
    try:
        assert runtime.intake.rules.repo_overrides  # and so the webhook's pre-filter lets `@helper` through
        assert (await admit(runtime, "@helper write hello")).startswith("queued")
        assert (await admit(runtime, "@claude write hello", "d-2", comment=2)).startswith(
            "ignored: the comment does not mention @helper")
    finally:
        await runtime.store.close()
    runtime = await configured(settings, remote, github, agent)  # not allowed: the file is invalid, and said so
    try:
        assert (await admit(runtime, "@claude write hello")).startswith("refused: ")
        assert "AWO_REPO_TRIGGERS is off" in list(github.comments.values())[-1][2]
    finally:
        await runtime.store.close()
