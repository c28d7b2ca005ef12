"""The composite action's wall time on the scripted model, run as a runner runs it (tests/action/harness.py): from
the action's first step to the pull request, and how much of it is installation, cold (empty cache) and warm.

`python -m benchmarks.action [runs]`: one cold job, then `runs` warm jobs (a cache hit each), medians printed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from tests.action.harness import JobResult
from tests.action.stack import ActionStack
from tests.e2e.harness import REPO, script_for
from tests.payloads import example

WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "bench.txt", "content": "bench\n"}}}
INSTALL = ("Set up Python", "Compute the install's cache key", "Restore the install",
           "Install the package and the pinned Claude Code CLI")


def one_job(stack: ActionStack) -> JobResult:
    number = stack.new_number()
    stack.script(script_for(number, [{"text": "Plan: write bench.txt."}], [WRITE, {"text": "Wrote bench.txt."}]))
    payload = example("issues", "labeled", label__name="claude", issue__number=number, issue__title="Bench",
                      repository__clone_url=str(stack.remote))
    result = stack.run("issues", payload)
    if result.code != 0 or not result.outputs["pr_url"]:
        raise SystemExit(f"the job did not open a PR:\n{result.log()[-3000:]}")
    return result


Figures = tuple[float, float, float, float, float]


def split(result: JobResult) -> Figures:
    """Total; installation (setup, key, cache restore, install) and of it the restore; the sandbox step; and
    `awo action` itself (the event read to the PR opened and the summary written)."""
    install = sum(s.seconds for s in result.steps if s.name in INSTALL)
    restore = result.step("Restore the install").seconds
    sandbox = result.step("Make the agent's sandbox available").seconds
    return result.seconds, install, restore, sandbox, result.step("Run the work order").seconds


def line(label: str, figures: Figures) -> str:
    total, install, restore, sandbox, run = figures
    return (f"{label:<22} total {total:6.2f} s | installation {install:6.2f} s ({install / total:4.0%}; cache "
            f"restore {restore:5.2f} s) | sandbox step {sandbox:5.2f} s | awo action (event → PR) {run:5.2f} s")


def main(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory(prefix="awo-bench-action-") as root:
        stack = ActionStack(Path(root))
        try:
            cold = split(one_job(stack))
            warm = [split(one_job(stack)) for _ in range(runs)]
        finally:
            stack.stop()
    medians = tuple(statistics.median(w[i] for w in warm) for i in range(5))
    print(f"composite action on {REPO}, scripted model, real Claude CLI, fake GitHub")
    print(line("cold (empty cache)", cold) + "  (+ the cache's save at the job's end)")
    print(line(f"warm (median of {runs})", medians))  # type: ignore[arg-type]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
