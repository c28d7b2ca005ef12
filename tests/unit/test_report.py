"""The progress comment is a projection of the row; secrets are redacted from everything shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import Status, Step, WorkOrder
from bot.report import fence, redact, render_comment

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def work_order(**changes: object) -> WorkOrder:
    base = WorkOrder(agent_work_order_id="wo-1234abcd", repository_url="https://github.com/o/r", repo_full_name="o/r",
                     issue_number=7, trigger_actor="octocat", started_at=START)
    return base.model_copy(update=changes)


def step(name: str, seconds: float, success: bool = True, **extra: object) -> Step:
    return Step(agent_work_order_id="wo-1234abcd", step=name, agent_name="A", success=success,
                duration_seconds=seconds, **extra)  # type: ignore[arg-type]


def test_queued_comment_names_the_requester_and_carries_the_marker() -> None:
    body = render_comment(work_order(status=Status.PENDING), [])
    assert body.startswith("<!-- agent-work-order:wo-1234abcd -->")
    assert "⏳ Queued" in body and "@octocat" in body


def test_running_comment_lists_done_steps_and_the_current_one() -> None:
    body = render_comment(work_order(status=Status.RUNNING), [step("checkout", 0.4)], running="plan")
    assert "- [x] **checkout** — 0.4 s" in body and "- [ ] **plan** — running…" in body


def test_done_comment_has_outcome_duration_cost_turns_branch_and_pr() -> None:
    done = work_order(status=Status.COMPLETED, completed_at=START + timedelta(seconds=72), total_cost_usd=0.4213,
                      num_turns=7, git_branch_name="claude/issue-7-1234abcd", pr_url="https://github.com/o/r/pull/8")
    steps = [step("checkout", 0.4), step("implement", 60.5, cost_usd=0.42, num_turns=7)]
    body = render_comment(done, steps)
    assert "✅ Done" in body and "**Duration:** 1m 12s" in body and "**Cost:** $0.42" in body
    assert "**Turns:** 7" in body and "`claude/issue-7-1234abcd`" in body and "pull/8" in body
    assert "- [x] **implement** — 1m 00s · $0.4200 · 7 turns" in body


def test_failed_comment_shows_the_error_redacted() -> None:
    failed = work_order(status=Status.FAILED, completed_at=START, error_message="push failed: token ghp_" + "a" * 36)
    body = render_comment(failed, [step("push", 1.0, success=False)], secrets=["hunter22"])
    assert "❌ Failed" in body and "- [ ] **push** ❌" in body
    assert "ghp_" + "a" * 36 not in body and "push failed: token ***" in body


def test_answer_only_comment_when_nothing_changed() -> None:
    body = render_comment(work_order(status=Status.COMPLETED, completed_at=START), [], answer="No change needed.")
    assert "no changes were needed" in body and "No change needed." in body


def test_redaction_covers_known_values_and_credential_shapes() -> None:
    text = ("value hunter22 and sk-ant-api03-abcdefghijkl and github_pat_" + "x" * 30 + " and "
            "Authorization: Bearer abc.def and https://x-access-token:zzz@github.com and "
            "postgresql://user:pw@db/x and -----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----")
    cleaned = redact(text, ["hunter22"])
    for leaked in ("hunter22", "sk-ant-api03", "github_pat_", "abc.def", "zzz", ":pw@", "BEGIN RSA"):
        assert leaked not in cleaned, leaked


def test_a_fence_cannot_be_closed_by_its_text() -> None:
    fenced = fence("a ```` b")
    assert fenced.startswith("`````\n") and fenced.endswith("\n`````")


def test_cost_below_a_cent_is_shown_and_one_turn_is_singular() -> None:
    done = work_order(status=Status.COMPLETED, completed_at=START, total_cost_usd=0.0004, num_turns=1,
                      metadata={"outcome": "answer"})
    body = render_comment(done, [step("implement", 2.0, cost_usd=0.0004, num_turns=1)])
    assert "**Cost:** $0.0004" in body and "$0.00 " not in body
    assert "· 1 turn" in body and "1 turns" not in body
    assert "**Cost:** $1.25" in render_comment(done.model_copy(update={"total_cost_usd": 1.25}), [])


def test_a_change_on_a_local_branch_is_not_called_no_changes() -> None:
    """`awo run`: no PR, but the branch holds the change; the report says that, once."""
    done = work_order(status=Status.COMPLETED, completed_at=START, git_branch_name="claude/wo-1234abcd",
                      metadata={"outcome": "branch"})
    body = render_comment(done, [])
    assert "no changes were needed" not in body and "✅ Done" in body
    assert body.count("claude/wo-1234abcd") == 1 and "holds the change" in body


def test_a_multi_line_git_error_keeps_its_lines_in_a_fence() -> None:
    error = "push: the branch was not pushed. Git said:\ngit push failed: remote: rejected\n! [remote rejected] x"
    body = render_comment(work_order(status=Status.FAILED, completed_at=START, error_message=error), [])
    assert "**Error:** push: the branch was not pushed. Git said:\n\n```\ngit push failed: remote: rejected\n" in body
    assert body.rstrip().endswith("! [remote rejected] x\n```")
