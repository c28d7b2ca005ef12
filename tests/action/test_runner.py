"""action.yml run as a runner runs it: GitHub's expression evaluator, bash steps, real payloads, the real CLI on the
scripted model, the fake GitHub (every request checked against GitHub's OpenAPI description), a real PR."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.migrate import apply_migrations
from tests.action.harness import JobResult
from tests.action.stack import ActionStack, no_secret_in
from tests.e2e.harness import API_KEY, CLAUDE, REPO, TOKEN, script_for
from tests.gitrepo import branches, git, show
from tests.integration.conftest import fresh_database
from tests.payloads import example

pytestmark = pytest.mark.e2e
WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from the action\n"}}}
PLAN = [{"text": "Plan: write hello.txt."}]
MARK = "<!-- agent-work-order:"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionStack]:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    running = ActionStack(Path(tmp_path_factory.mktemp("action")))
    yield running
    running.stop()


def asked(stack: ActionStack, number: int, answer: str = "Wrote hello.txt.") -> None:
    stack.script(script_for(number, PLAN, [WRITE, {"text": answer}]))


def completed(result: JobResult) -> dict[str, str]:
    assert result.code == 0, result.log()
    assert result.outputs["status"] == "completed", result.log()
    return result.outputs


def issue_comments(stack: ActionStack, number: int) -> list[dict[str, Any]]:
    return [c for c in stack.gh.comments(REPO, number) if MARK in c["body"]]


def test_a_labelled_issue_becomes_a_pull_request_and_a_second_job_hits_the_cache(stack: ActionStack) -> None:
    number = stack.new_number()
    asked(stack, number)
    payload = example("issues", "labeled", label__name="claude", issue__number=number, issue__title="Say hello",
                      issue__body="Please add hello.txt", repository__clone_url=str(stack.remote))

    result = stack.run("issues", payload)

    outputs = completed(result)
    assert result.step("Install the package and the pinned Claude Code CLI").outcome in ("success", "skipped")
    branch = outputs["branch"]
    assert branch.startswith(f"claude/issue-{number}-") and branch in branches(stack.remote)
    assert show(stack.remote, branch, "hello.txt") == "hello from the action"
    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == branch]
    assert outputs["pr_url"] == pull["html_url"] and outputs["work_order_id"].startswith("wo-")
    assert float(outputs["cost_usd"]) > 0 and int(outputs["num_turns"]) >= 2 and outputs["session_id"]
    [comment] = issue_comments(stack, number)  # the one progress comment, edited to its end
    assert "✅ Done" in comment["body"] and pull["html_url"] in comment["body"]
    assert "✅ completed" in result.summary and f"]({pull['html_url']})" in result.summary
    assert "| implement | ✅ |" in result.summary
    assert git("status", "--porcelain", cwd=stack.workspace) == ""  # the job's checkout untouched

    again = stack.new_number()
    asked(stack, again)
    second = stack.run("issues", example("issues", "labeled", label__name="claude", issue__number=again,
                                         issue__title="Say hello again", repository__clone_url=str(stack.remote)))
    completed(second)
    assert second.step("Install the package and the pinned Claude Code CLI").outcome == "skipped"  # a cache hit


def test_a_comment_with_the_phrase_runs_and_replies_in_one_comment(stack: ActionStack) -> None:
    number = stack.new_number()
    asked(stack, number)
    stack.gh.seed({"comments": {REPO: [{"issue_number": number, "body": "@claude add hello.txt please",
                                        "user": "Codertocat"}]}})
    [comment] = stack.gh.comments(REPO, number)
    payload = example("issue_comment", "created", issue__number=number, issue__title=f"Issue {number}",
                      comment__body=comment["body"], comment__id=comment["id"], comment__user__login="Codertocat",
                      sender__login="Codertocat", repository__clone_url=str(stack.remote))

    outputs = completed(stack.run("issue_comment", payload))

    assert show(stack.remote, outputs["branch"], "hello.txt") == "hello from the action"
    [report] = issue_comments(stack, number)
    assert "✅ Done" in report["body"] and outputs["pr_url"] in report["body"]
    assert [r["content"] for r in stack.gh.reactions(REPO) if r["subject_id"] == comment["id"]] == ["eyes"]


def push_branch(stack: ActionStack, branch: str, scratch: Path) -> str:
    work = scratch / branch.replace("/", "-")
    git("clone", "--quiet", str(stack.remote), str(work), cwd=scratch)
    git("checkout", "--quiet", "-b", branch, cwd=work)
    (work / "greet.py").write_text("def greet():\n    x = 'hi'\n    return x\n")
    git("add", "--all", cwd=work)
    git("-c", "user.name=Octo Cat", "-c", "user.email=octo@example.com", "commit", "--quiet", "-m", "greet",
        cwd=work)
    git("push", "--quiet", "origin", branch, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def open_pull(stack: ActionStack, branch: str) -> int:
    stack.gh.seed({"pulls": {REPO: [{"head": branch, "base": "main", "title": f"Work on {branch}", "body": "",
                                     "user": "Codertocat"}]}})
    return max(p["number"] for p in stack.gh.pulls(REPO))


def pull_part(stack: ActionStack, number: int, branch: str) -> dict[str, Any]:
    return {"pull_request__number": number, "pull_request__state": "open", "pull_request__head__ref": branch,
            "pull_request__head__repo__full_name": REPO, "pull_request__base__ref": "main",
            "repository__clone_url": str(stack.remote), "sender__login": "Codertocat"}


def test_a_review_comment_adds_a_commit_to_the_pull_requests_branch(stack: ActionStack, tmp_path: Path) -> None:
    branch = "feature/review-comment"
    head = push_branch(stack, branch, tmp_path)
    number = open_pull(stack, branch)
    hunk = "@@ -0,0 +1,3 @@\n+def greet():\n+    x = 'hi'\n+    return x"
    stack.gh.seed({"review_comments": {REPO: [{"pull_number": number, "user": "Codertocat", "path": "greet.py",
                                               "line": 2, "side": "RIGHT", "diff_hunk": hunk,
                                               "body": "@claude add hello.txt"}]}})
    [comment] = stack.gh.review_comments(REPO, number)
    asked(stack, number)
    payload = example("pull_request_review_comment", "created", comment__id=comment["id"],
                      comment__body=comment["body"], comment__path="greet.py", comment__line=2, comment__side="RIGHT",
                      comment__diff_hunk=hunk, comment__in_reply_to_id=None, comment__user__login="Codertocat",
                      **pull_part(stack, number, branch))
    pulls_before = len(stack.gh.pulls(REPO))

    outputs = completed(stack.run("pull_request_review_comment", payload, ref=f"refs/pull/{number}/merge"))

    assert outputs["branch"] == branch and git("rev-list", "--count", f"{head}..{branch}", cwd=stack.remote) == "1"
    assert show(stack.remote, branch, "hello.txt") == "hello from the action"
    assert len(stack.gh.pulls(REPO)) == pulls_before and outputs["pr_url"].endswith(f"/pull/{number}")
    [reply] = [c for c in stack.gh.review_comments(REPO, number) if MARK in c["body"]]
    assert reply["in_reply_to_id"] == comment["id"] and "✅ Done" in reply["body"]


def test_a_review_adds_a_commit_and_reports_in_the_conversation(stack: ActionStack, tmp_path: Path) -> None:
    branch = "feature/review"
    head = push_branch(stack, branch, tmp_path)
    number = open_pull(stack, branch)
    asked(stack, number)
    payload = example("pull_request_review", "submitted", review__body="@claude add hello.txt",
                      review__state="commented", review__user__login="Codertocat", **pull_part(stack, number, branch))

    outputs = completed(stack.run("pull_request_review", payload, ref=f"refs/pull/{number}/merge"))

    assert outputs["branch"] == branch and git("rev-list", "--count", f"{head}..{branch}", cwd=stack.remote) == "1"
    [report] = issue_comments(stack, number)
    assert "✅ Done" in report["body"]


def test_a_comment_without_the_phrase_is_skipped_and_the_summary_says_why(stack: ActionStack) -> None:
    number = stack.new_number()
    payload = example("issue_comment", "created", issue__number=number, comment__body="thanks, looks good",
                      repository__clone_url=str(stack.remote))
    pulls_before = len(stack.gh.pulls(REPO))

    result = stack.run("issue_comment", payload)

    assert result.code == 0, result.log()
    assert result.outputs["status"] == "skipped" and result.outputs["work_order_id"] == ""
    assert "skipped" in result.summary and "@claude" in result.summary
    assert stack.gh.comments(REPO, number) == [] and len(stack.gh.pulls(REPO)) == pulls_before


def test_a_prompt_from_a_dispatch_opens_a_pull_request_without_an_issue(stack: ActionStack) -> None:
    stack.script([{"match": "step: plan", "turns": PLAN},
                  {"match": "step: implement", "turns": [WRITE, {"text": "Wrote hello.txt."}]}])
    comments_before = len(stack.gh.comments(REPO))

    outputs = completed(stack.run("workflow_dispatch", {"inputs": {}, "ref": "refs/heads/main"},
                                  prompt="Add hello.txt with a greeting"))

    assert outputs["branch"].startswith("claude/wo-") and show(stack.remote, outputs["branch"], "hello.txt")
    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == outputs["branch"]]
    assert pull["base"] == "main" and outputs["pr_url"] == pull["html_url"]
    assert len(stack.gh.comments(REPO)) == comments_before  # no issue: no comment


def test_a_failing_work_order_fails_the_step(stack: ActionStack) -> None:
    number = stack.new_number()
    refusal = {"error": {"status": 400, "type": "invalid_request_error", "message": "scripted refusal 4712"}}
    stack.script(script_for(number, PLAN, [refusal]))

    result = stack.run("issues", example("issues", "labeled", label__name="claude", issue__number=number,
                                         repository__clone_url=str(stack.remote)))

    assert result.code == 1 and result.step("Run the work order").outcome == "failure"
    assert result.outputs["status"] == "failed" and "❌ failed" in result.summary
    assert "scripted refusal 4712" in result.summary
    [report] = issue_comments(stack, number)
    assert "❌" in report["body"] and "scripted refusal 4712" in report["body"]


HOSTILE_TITLE = ("${{ github.token }} `id` $(touch /tmp/pwned-by-title) \nstatus=completed\n"
                 "pr_url<<EOF\nhttps://evil.example\nEOF\nghadelimiter_x\n| --- |</details><script>x</script>")


def test_a_hostile_issue_changes_nothing(stack: ActionStack) -> None:
    number = stack.new_number()
    asked(stack, number, answer="Done: status=cancelled\npr_url=https://evil.example\n::set-output name=x::y")
    payload = example("issues", "labeled", label__name="claude", issue__number=number, issue__title=HOSTILE_TITLE,
                      issue__body=HOSTILE_TITLE + "\n$(touch /tmp/pwned-by-body) ${{ secrets.ANTHROPIC_API_KEY }}",
                      repository__clone_url=str(stack.remote))

    result = stack.run("issues", payload)

    outputs = completed(result)
    assert set(outputs) == {"work_order_id", "status", "branch", "pr_url", "cost_usd", "num_turns", "session_id"}
    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == outputs["branch"]]
    assert outputs["pr_url"] == pull["html_url"]
    assert not Path("/tmp/pwned-by-title").exists() and not Path("/tmp/pwned-by-body").exists()
    assert "<script>" not in result.summary and "](https://evil.example" not in result.summary
    rows = [line for line in result.summary.splitlines() if line.startswith("| request |")]
    assert len(rows) == 1 and "status=completed" in rows[0]  # the title stayed in its one cell
    temp = Path(stack.runner / "_temp")
    assert no_secret_in(temp / "_runner_file_commands", (TOKEN, API_KEY)) == []
    assert no_secret_in(temp / "agent-work-orders", (TOKEN, API_KEY)) == []
    assert TOKEN not in result.log() and API_KEY not in result.log()


@pytest.mark.postgres
def test_with_a_database_url_the_run_is_recorded_in_the_shared_store(stack: ActionStack) -> None:
    number = stack.new_number()
    asked(stack, number)
    payload = example("issues", "labeled", label__name="claude", issue__number=number,
                      repository__clone_url=str(stack.remote))
    with fresh_database() as url:
        asyncio.run(apply_migrations(url))

        outputs = completed(stack.run("issues", payload, database_url=url))

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT status, lease_owner, pr_url FROM archon_agent_work_orders "
                               "WHERE agent_work_order_id = %s", (outputs["work_order_id"],)).fetchone()
            delivery = conn.execute("SELECT outcome FROM archon_agent_work_order_deliveries").fetchone()
    assert row == ("completed", None, outputs["pr_url"])
    assert delivery is not None and delivery[0] == f"queued {outputs['work_order_id']}"
    assert not (stack.runner / "_temp/agent-work-orders/work-orders.db").exists()  # not SQLite on the runner
