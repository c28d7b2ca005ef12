"""The bot's own time per work order with the scripted model, and warm vs cold checkout.

- webhook received → first model request (receive, intake, admission, claim, checkout, CLI start-up)
- last model answer → PR request (commit, push, PR lookup and creation)
- checkout step of a second work order on the same repository (mirror fetch + worktree) vs `git clone`
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import epoch
from tests.e2e.harness import REPO, Stack, script_for
from tests.gitrepo import git

WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "bench.txt", "content": "bench\n"}}}


def grow(remote: Path, files: int = 3000, commits: int = 30) -> None:
    """Give the remote some weight: files and history, so clone vs fetch means something."""
    work = remote.parent / "grow"
    git("clone", "--quiet", str(remote), str(work), cwd=remote.parent)
    for c in range(commits):
        for f in range(files // commits):
            path = work / f"src/pkg{c}/module{f}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# module {c}/{f}\n" + "x = 1\n" * 200)
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "-m", f"grow {c}", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)


def clone_time(url: str, into: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", url, str(into)], check=True)
    return time.perf_counter() - started


def run_one(stack: Stack, issue: int) -> dict[str, float]:
    stack.script(script_for(issue, [{"text": "Plan: write bench.txt"}], [WRITE, {"text": "Wrote bench.txt"}]))
    stack.model.clear_requests()
    stack.gh.clear_calls()
    sent = time.time()
    stack.deliver("issues", stack.issue_payload(issue, f"Bench {issue}"))
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    model = [r for r in stack.model.requests() if r["path"] == "/v1/messages"]
    [pr_call] = stack.gh.calls("POST", r"/pulls$")
    checkout = next(s for s in stack.steps(order["agent_work_order_id"]) if s["step"] == "checkout")
    return {
        "to_first_model_request": model[0]["received"] - sent,
        "last_answer_to_pr": epoch(pr_call["time"]) - max(r["finished"] for r in model),
        "checkout": checkout["duration_seconds"],
    }


def main(runs: int = 6) -> None:
    with tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        stack = Stack(Path(root))
        try:
            grow(stack.remote)
            stack.configure_repo()
            figures = [run_one(stack, 500 + n) for n in range(runs)]
            cold = clone_time(str(stack.remote), Path(root) / "cold")
            packed = clone_time(f"file://{stack.remote}", Path(root) / "cold-packed")
        finally:
            stack.stop()
    first, warm = figures[0], figures[1:]
    print(f"repository: {REPO} stand-in, 3,000 files in 31 commits")
    for key, label in (("to_first_model_request", "webhook received → first model request"),
                       ("last_answer_to_pr", "last model answer → PR request")):
        print(f"{label}: median {statistics.median(f[key] for f in warm) * 1000:.0f} ms over {len(warm)} "
              f"warm work orders (first, cold mirror: {first[key] * 1000:.0f} ms)")
    print(f"checkout: first work order (mirror clone + worktree) {first['checkout'] * 1000:.0f} ms; "
          f"later ones (fetch + worktree) median {statistics.median(f['checkout'] for f in warm) * 1000:.0f} ms; "
          f"a fresh `git clone` {cold * 1000:.0f} ms (local path), {packed * 1000:.0f} ms (file://, packs objects "
          "like a network clone)")


if __name__ == "__main__":
    main()
