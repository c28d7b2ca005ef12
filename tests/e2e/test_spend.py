"""End to end, the per-run cap: the real CLI, a scripted model reporting a high usage, stopped at the cap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CLAUDE, Stack, script_for, wait_until
from tests.gitrepo import branches

pytestmark = pytest.mark.e2e

# $0.465 a turn on Sonnet ($3 / $15 per million input / output tokens): the second turn passes a $0.50 cap.
EXPENSIVE = {"input_tokens": 150_000, "output_tokens": 1_000}


def write(name: str, **extra: object) -> dict[str, object]:
    return {"tool_use": {"name": "Write", "input": {"file_path": name, "content": f"{name}\n"}}, **extra}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    running = Stack(Path(tmp_path_factory.mktemp("e2e-spend")), AWO_MAX_RUN_USD="0.50",
                    AWO_STEP_TIMEOUT_SECONDS="30")
    running.configure_repo()
    yield running
    running.stop()


def test_a_run_past_its_cap_is_stopped_and_fails_with_the_figures(stack: Stack) -> None:
    issue = stack.new_issue()
    implement = [write("a.txt", usage=EXPENSIVE), write("b.txt", usage=EXPENSIVE), write("c.txt"),
                 {"text": "never reached"}]
    stack.script(script_for(issue, [{"text": "Plan: write three files."}], implement))
    stack.deliver("issues", stack.issue_payload(issue, "Spend a lot"))

    order = stack.finished(issue, timeout=60)
    assert order["status"] == "failed", order
    message = order["error_message"]
    stopped = re.fullmatch(r"implement: the agent was stopped at \$(\d+\.\d\d) of a \$0\.50 cap", message)
    assert stopped is not None, message
    assert 0.50 < float(stopped.group(1)) < 1.0  # the plan's few cents and two expensive turns
    implement_step = [s for s in stack.steps(order["agent_work_order_id"]) if s["step"] == "implement"][0]
    assert implement_step["cost_usd"] > 0.5 and not implement_step["success"]
    asked = [r for r in stack.model.requests() if r.get("rule") == 1 and r.get("kind") != "aux"]
    assert sorted({r["turn"] for r in asked}) == [0, 1], "the CLI asked the model again after the cap"

    body = wait_until(lambda: "❌ Failed" in stack.comment_on(issue) and stack.comment_on(issue))
    assert f"stopped at ${stopped.group(1)} of a $0.50 cap" in body
    assert re.search(r"\*\*Cost:\*\* \$0\.\d\d of \$0\.50", body), body
    assert not [b for b in branches(stack.remote) if b.startswith(f"claude/issue-{issue}-")]
