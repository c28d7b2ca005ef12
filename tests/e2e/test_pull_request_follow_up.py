"""End to end: @claude in the conversation of the PR a work order opened adds a commit to that PR's branch."""

from __future__ import annotations

import pytest

from tests.e2e.harness import REPO, Stack, script_for, wait_until
from tests.gitrepo import git, show
from tests.payloads import example

pytestmark = pytest.mark.e2e

PLAN = [{"text": "Plan: write the file."}]


def write(name: str, text: str) -> dict:
    return {"tool_use": {"name": "Write", "input": {"file_path": name, "content": text}}}


def pr_comment(stack: Stack, number: int, body: str) -> dict:
    """A writer's comment in the PR's conversation, on GitHub (the fake) and as the webhook carries it."""
    stack.gh.seed({"comments": {REPO: [{"issue_number": number, "body": body, "user": "Codertocat"}]}})
    [comment] = [c for c in stack.gh.comments(REPO, number) if c["body"] == body]
    return example("issue_comment", "created", issue__number=number, issue__title="Say hello",
                   issue__pull_request={"url": f"{stack.github.url}/repos/{REPO}/pulls/{number}"},
                   comment__body=body, comment__user__login="Codertocat", sender__login="Codertocat",
                   comment__id=comment["id"], repository__clone_url=str(stack.remote))


def report_on(stack: Stack, number: int) -> str:
    """The bot's progress comment in the thread: the one carrying a work order's marker (not a PR report's)."""
    [report] = [c["body"] for c in stack.gh.comments(REPO, number)
                if "<!-- agent-work-order:" in c["body"] and ":pull-request -->" not in c["body"]]
    return str(report)


def pull_request_report(stack: Stack, number: int, work_order_id: str) -> str:
    """The run's report a work order made from an issue left on the PR it opened."""
    marker = f"<!-- agent-work-order:{work_order_id}:pull-request -->"
    [report] = wait_until(lambda: [c["body"] for c in stack.gh.comments(REPO, number) if marker in c["body"]])
    return str(report)


def pull_request_for(stack: Stack, issue: int, name: str) -> dict:
    """A labelled issue whose work order wrote `name` and opened a PR: that work order, completed."""
    stack.script(script_for(issue, PLAN, [write(f"{name}.txt", f"{name}\n"), {"text": f"Added {name}.txt."}]))
    stack.deliver("issues", stack.issue_payload(issue, f"Add {name}"))
    first = stack.finished(issue)
    assert first["status"] == "completed" and first["pr_number"], first
    return first


def test_a_comment_on_the_bots_pull_request_adds_a_commit_to_its_branch_and_opens_no_other(stack: Stack) -> None:
    issue = stack.new_issue()
    first = pull_request_for(stack, issue, "hello")
    branch, number = first["git_branch_name"], first["pr_number"]
    pulls_before = len(stack.gh.pulls(REPO))
    made = pull_request_report(stack, number, first["agent_work_order_id"])  # how the PR was made, on the PR
    assert "How this change was made" in made and "- [x] **implement**" in made and "**Cost:**" in made
    assert f"on [#{issue}](" in made and "#issuecomment-" in made  # the issue's comment, linked

    stack.script(script_for(number, PLAN, [write("bye.txt", "bye\n"), {"text": "Added bye.txt too."}]))
    assert stack.deliver("issue_comment", pr_comment(stack, number, "@claude add bye.txt as well")).status_code == 202
    follow_up = stack.finished(number)
    assert follow_up["status"] == "completed", follow_up
    assert follow_up["git_branch_name"] == branch and follow_up["pr_number"] == number
    assert show(stack.remote, branch, "hello.txt") == "hello" and show(stack.remote, branch, "bye.txt") == "bye"
    assert git("rev-list", "--count", f"main..{branch}", cwd=stack.remote) == "2"  # on top, never rewritten
    assert len(stack.gh.pulls(REPO)) == pulls_before  # the same PR, no second one
    body = wait_until(lambda: "✅ Done" in report_on(stack, number) and report_on(stack, number))
    assert branch in body and f"/pull/{number}" in body  # the report is in the PR's own thread


def test_a_new_request_on_an_issue_with_an_open_pr_goes_on_in_that_pr(stack: Stack) -> None:
    issue = stack.new_issue()
    first = pull_request_for(stack, issue, "one")
    pulls_before = len(stack.gh.pulls(REPO))

    stack.script(script_for(issue, PLAN, [write("two.txt", "two\n"), {"text": "Added two.txt."}]))
    assert stack.deliver("issue_comment", stack.comment_payload(issue, "@claude add two.txt", "Codertocat")
                         ).status_code == 202
    second = wait_until(lambda: next((o for o in stack.work_orders(issue) if o["agent_work_order_id"] !=
                                      first["agent_work_order_id"] and o["status"] in ("completed", "failed")), None),
                        timeout=60)
    assert second["status"] == "completed", second
    branch = first["git_branch_name"]
    assert second["git_branch_name"] == branch and second["pr_number"] == first["pr_number"]
    assert show(stack.remote, branch, "one.txt") == "one" and show(stack.remote, branch, "two.txt") == "two"
    assert len(stack.gh.pulls(REPO)) == pulls_before
