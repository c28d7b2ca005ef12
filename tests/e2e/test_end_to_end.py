"""End to end: real server process, real Claude CLI, scripted model, fake GitHub, bare git remote."""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness import API_KEY, REPO, TOKEN, Stack, script_for, wait_until
from tests.gitrepo import branches, git, show

pytestmark = pytest.mark.e2e

WRITE_HELLO = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from claude\n"}}}
PLAN = [{"text": "Plan: create hello.txt containing a greeting."}]


def reactions_on(stack: Stack, issue: int) -> list[str]:
    """The reactions on one issue (other tests in the module react on theirs)."""
    return [r["content"] for r in stack.gh.reactions(REPO) if (r["subject"], r["subject_id"]) == ("issue", issue)]


def test_labelled_issue_becomes_a_branch_a_pr_and_a_final_comment(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [WRITE_HELLO, {"text": "Added hello.txt with a greeting."}]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Say hello")).status_code == 202

    order = stack.finished(issue)
    assert order["status"] == "completed", order
    branch = f"claude/issue-{issue}-{order['agent_work_order_id'].removeprefix('wo-')}"
    assert order["git_branch_name"] == branch
    assert branch in branches(stack.remote)
    assert show(stack.remote, branch, "hello.txt") == "hello from claude"
    assert git("diff", "--name-only", "main", branch, cwd=stack.remote) == "hello.txt"
    assert "Co-authored-by: Codertocat" in git("log", "-1", "--format=%B", branch, cwd=stack.remote)

    [pr_call] = [c for c in stack.gh.calls("POST", r"/pulls$") if c["json"]["head"] == branch]
    assert pr_call["json"]["base"] == "main"
    assert f"Closes #{issue}" in pr_call["json"]["body"] and "Added hello.txt" in pr_call["json"]["body"]
    assert pr_call["token"] == TOKEN
    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == branch]
    assert order["pr_url"] == pull["html_url"]

    body = wait_until(lambda: "✅ Done" in stack.comment_on(issue) and stack.comment_on(issue))
    assert f"<!-- agent-work-order:{order['agent_work_order_id']} -->" in body
    assert pull["html_url"] in body and branch in body
    for step in ("checkout", "plan", "implement", "commit", "push", "pull-request"):
        assert f"- [x] **{step}**" in body
    assert "**Cost:** $" in body and "**Turns:** 3" in body
    assert reactions_on(stack, issue) == ["eyes"]

    steps = stack.steps(order["agent_work_order_id"])
    assert [s["step"] for s in steps] == ["checkout", "plan", "implement", "commit", "push", "pull-request"]
    implement = steps[2]
    assert implement["success"] and implement["session_id"] and implement["num_turns"] == 2
    assert implement["cost_usd"] > 0 and "--- tool log ---\nWrite hello.txt" in implement["output"]
    assert order["total_cost_usd"] > 0 and order["num_turns"] == 3


def test_agent_failure_fails_the_work_order_and_the_comment_says_why(stack: Stack) -> None:
    error = {"error": {"status": 400, "type": "invalid_request_error", "message": "scripted refusal 4711"}}
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [error]))
    stack.deliver("issues", stack.issue_payload(issue, "Break please"))

    order = stack.finished(issue)
    assert order["status"] == "failed"
    assert "implement" in order["error_message"] and "scripted refusal 4711" in order["error_message"]
    body = wait_until(lambda: "❌ Failed" in stack.comment_on(issue) and stack.comment_on(issue))
    assert "scripted refusal 4711" in body
    assert not [b for b in branches(stack.remote) if b.startswith(f"claude/issue-{issue}-")]
    assert all(f"issue-{issue}-" not in str(p["head"]) for p in stack.gh.pulls(REPO))


def test_a_hanging_cli_is_killed_at_the_time_limit(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"hang": True}], [{"text": "never"}]))
    started = time.monotonic()
    stack.deliver("issues", stack.issue_payload(issue, "Hang"))

    order = stack.finished(issue, timeout=40)
    assert order["status"] == "failed"
    assert "time limit" in order["error_message"]
    assert time.monotonic() - started < 30
    wait_until(lambda: "❌ Failed" in stack.comment_on(issue))


def test_no_file_changed_means_an_answer_comment_and_no_pr(stack: Stack) -> None:
    answer = "hello.txt is not needed: the README already greets the reader."
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [{"text": answer}]))
    stack.deliver("issues", stack.issue_payload(issue, "Maybe say hello"))

    order = stack.finished(issue)
    assert order["status"] == "completed" and order["pr_url"] is None
    body = wait_until(lambda: "no changes were needed" in stack.comment_on(issue) and stack.comment_on(issue))
    assert answer in body
    assert all(f"issue-{issue}-" not in str(p["head"]) for p in stack.gh.pulls(REPO))
    assert not [b for b in branches(stack.remote) if b.startswith(f"claude/issue-{issue}-")]


def test_readers_and_bots_mentioning_the_bot_get_nothing(stack: Stack) -> None:
    refused, allowed = stack.new_issue(), stack.new_issue()
    stack.deliver("issue_comment", stack.comment_payload(refused, "@claude delete everything", "reader"))
    stack.deliver("issue_comment", stack.comment_payload(refused, "🤖 @claude is on it", "awo-bot[bot]", "Bot"))
    stack.script(script_for(allowed, PLAN, [{"text": "Nothing to do."}]))
    stack.deliver("issue_comment", stack.comment_payload(allowed, "@claude look at this", "maintainer"))

    stack.finished(allowed)  # deliveries are processed in order: the first two are done by now
    assert stack.work_orders(refused) == []
    assert stack.gh.comments(REPO, refused) == []
    asked = [c["path"].split("/")[-2] for c in stack.gh.calls("GET", r"/collaborators/")]
    # the bot was refused before any GitHub call; the maintainer is asked again when a worker claims the work
    assert asked[-3:] == ["reader", "maintainer", "maintainer"]


def test_secrets_stay_out_of_the_agent_and_the_outputs(stack: Stack) -> None:
    # its own work order, so the check has something to look at whichever tests ran before (or none)
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, [WRITE_HELLO, {"text": "Added hello.txt."}]))
    stack.deliver("issues", stack.issue_payload(issue, "Say hello, keep secrets"))
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    wait_until(lambda: "✅ Done" in stack.comment_on(issue))

    orders = stack.http.get("/api/agent-work-orders/").json()
    everything = str(orders) + str([stack.steps(o["agent_work_order_id"]) for o in orders])
    everything += str(stack.gh.state()["comments"]) + str(stack.gh.pulls(REPO))
    assert "hello.txt" in everything and order["agent_work_order_id"] in everything  # it is all there...
    assert TOKEN not in everything and API_KEY not in everything  # ...without the secrets
    assert TOKEN not in stack.log() and API_KEY not in stack.log()
    config = list((stack.root / "data/mirrors").glob("*.git/config"))
    assert config and all(TOKEN not in c.read_text() for c in config)
