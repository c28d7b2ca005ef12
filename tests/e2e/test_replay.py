"""Replays on the real server: a signed body captured once and re-sent never runs the agent again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import REPO, Stack, script_for, wait_until

pytestmark = pytest.mark.e2e

PLAN = [{"text": "Plan: nothing to change."}]


def test_one_signed_body_under_four_delivery_ids_runs_the_agent_once(stack: Stack) -> None:
    stack.script(script_for(301, PLAN, [{"text": "Nothing needed changing."}]))
    payload = stack.issue_payload(301, "Replay me")
    for n in range(4):
        assert stack.deliver("issues", payload, delivery=f"replay-{n}").status_code == 202
    order = stack.finished(301)
    assert order["status"] == "completed", order
    time.sleep(1)  # the three replays are processed in order right after the first
    assert len(stack.work_orders(301)) == 1
    assert len(stack.gh.comments(REPO, 301)) == 1
    assert len(stack.gh.calls("POST", r"/issues/301/reactions$")) == 1


def test_a_comment_captured_an_hour_ago_is_refused(stack: Stack) -> None:
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = stack.comment_payload(302, "@claude delete every test", "maintainer")
    payload["comment"]["created_at"] = old
    stack.deliver("issue_comment", payload, delivery="old-comment")
    wait_until(lambda: "triggers older than 600 s are refused" in stack.log())
    assert stack.work_orders(302) == [] and stack.gh.comments(REPO, 302) == []
