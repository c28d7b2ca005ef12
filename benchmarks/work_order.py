"""The bot's own time per work order with the scripted model, and warm vs cold checkout.

- webhook received → first model request (receive, intake, admission, claim, checkout, CLI start-up)
- last model answer → PR request (commit, push, PR lookup and creation)
- checkout step of a second work order on the same repository (mirror fetch + worktree) vs `git clone`
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import epoch
from tests.e2e.harness import REPO, Stack, script_for
from tests.gitrepo import git

WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "bench.txt", "content": "bench\n"}}}


FILES, COMMITS, BLOB = 1000, 120, 16 * 1024


def grow(remote: Path) -> None:
    """Give the remote the shape of a real project: a working tree of FILES files and a history that
    is much larger than it (COMMITS commits each rewriting 40 files with incompressible content)."""
    work = remote.parent / "grow"
    git("clone", "--quiet", str(remote), str(work), cwd=remote.parent)
    for f in range(FILES):
        path = work / f"src/pkg{f % 20}/module{f}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# module {f}\n" + "x = 1\n" * 100)
    for c in range(COMMITS):
        for f in range(40):
            (work / f"data/blob{f}.bin").parent.mkdir(exist_ok=True)
            (work / f"data/blob{f}.bin").write_bytes(os.urandom(BLOB))
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "-m", f"grow {c}", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)


def clone_time(url: str, into: Path, runs: int = 5) -> float:
    """Median time of a fresh `git clone` (history and checkout), over a few runs."""
    times = []
    for n in range(runs):
        started = time.perf_counter()
        subprocess.run(["git", "clone", "--quiet", url, f"{into}-{n}"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


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
            # file:// makes git pack and send objects as over a network, instead of hard-linking a local path;
            # the bot clones from the configured repository, so GitHub's answer (its clone_url) carries it
            stack.gh.seed({"repos": {REPO: {"default_branch": "main", "clone_url": f"file://{stack.remote}"}},
                           "permissions": {REPO: {"Codertocat": "write"}}})
            stack.configure_repo()
            figures = [run_one(stack, 500 + n) for n in range(runs)]
            cold = clone_time(f"file://{stack.remote}", Path(root) / "cold")
            size = sum(p.stat().st_size for p in stack.remote.rglob("*") if p.is_file()) / 1e6
        finally:
            stack.stop()
    first, warm = figures[0], figures[1:]
    print(f"repository: {REPO} stand-in, {FILES + 41} files, {COMMITS + 2} commits, {size:.0f} MB of history,"
          " cloned over file:// (objects packed and sent as over a network)")
    for key, label in (("to_first_model_request", "webhook received → first model request"),
                       ("last_answer_to_pr", "last model answer → PR request")):
        print(f"{label}: median {statistics.median(f[key] for f in warm) * 1000:.0f} ms over {len(warm)} "
              f"warm work orders (first, cold mirror: {first[key] * 1000:.0f} ms)")
    print(f"checkout: first work order (mirror clone + worktree) {first['checkout'] * 1000:.0f} ms; "
          f"later ones (fetch + worktree) median {statistics.median(f['checkout'] for f in warm) * 1000:.0f} ms; "
          f"a fresh `git clone` median {cold * 1000:.0f} ms")


if __name__ == "__main__":
    main()
