"""The bot's own time per work order with the scripted model, and warm vs cold checkout.

- webhook received → first model request (receive, intake, admission, claim, checkout, CLI start-up)
- last model answer → PR request (commit, push, PR lookup and creation)
- checkout step of a second work order on the same repository (mirror fetch + worktree) vs `git clone`
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import epoch
from bot.agent import AgentRequest, ClaudeCli, agent_env
from bot.sandbox import build_sandbox
from tests.e2e.harness import API_KEY, CLAUDE, REPO, Stack, script_for
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


def _at(iso: str | None) -> float:
    return epoch(iso) if iso else float("nan")


def _step_times(steps: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """step name → (started, ended), epoch seconds."""
    return {s["step"]: (_at(s["executed_at"]), _at(s["executed_at"]) + s["duration_seconds"]) for s in steps}


def timeline(stack: Stack, order: dict[str, Any], sent: float) -> dict[str, float]:
    """The moments a work order passed, from what the stores, fake GitHub and the scripted model recorded."""
    model = [r for r in stack.model.requests() if r["path"] == "/v1/messages"]
    calls = {(c["method"], c["path"]): _at(c["time"]) for c in reversed(stack.gh.calls())}  # first of each
    pulls = [c for c in stack.gh.calls() if c["path"].endswith("/pulls")]
    steps = _step_times(stack.steps(order["agent_work_order_id"]))
    agent_ends = [r["finished"] for r in model]
    return {
        "sent": sent, "queued": _at(order["created_at"]), "claimed": _at(order["started_at"]),
        "checkout started": steps["checkout"][0], "checkout ended": steps["checkout"][1],
        "agent step started": steps["plan"][0],
        "first model request": model[0]["received"],
        "last model answer": max(agent_ends), "agent step ended": steps["implement"][1],
        "commit started": steps["commit"][0], "commit ended": steps["commit"][1],
        "push started": steps["push"][0], "push ended": steps["push"][1],
        "PR lookup": next((_at(c["time"]) for c in pulls if c["method"] == "GET"), float("nan")),
        "PR request": next(_at(c["time"]) for c in pulls if c["method"] == "POST"),
        "ack comment": next((t for (m, path), t in calls.items() if m == "POST" and path.endswith("/comments")),
                            float("nan")),
    }


# Consecutive moments on each path, and what the time between them is spent on.
START_PARTS = (("sent", "queued", "receive, record, route, admit (permission), queue"),
               ("queued", "claimed", "claim wake-up"),
               ("claimed", "checkout started", "recheck permission, find comment, first progress report"),
               ("checkout started", "checkout ended", "mirror fetch + worktree (+ rows)"),
               ("checkout ended", "agent step started", "record the checkout step"),
               ("agent step started", "first model request", "prompt, scratch dir, bwrap + CLI start-up"))
END_PARTS = (("last model answer", "agent step ended", "CLI exit, result read"),
             ("agent step ended", "commit started", "record step, progress report"),
             ("commit started", "commit ended", "git add, diff, secret scan, commit"),
             ("commit ended", "push ended", "record, report, push"),
             ("push ended", "PR request", "record, report, PR lookup, PR create sent"))


def run_one(stack: Stack, issue: int) -> dict[str, float]:
    stack.script(script_for(issue, [{"text": "Plan: write bench.txt"}], [WRITE, {"text": "Wrote bench.txt"}]))
    stack.model.clear_requests()
    stack.gh.clear_calls()
    sent = time.time()
    stack.deliver("issues", stack.issue_payload(issue, f"Bench {issue}"))
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    moments = timeline(stack, order, sent)
    parts = {label: moments[end] - moments[start] for start, end, label in START_PARTS + END_PARTS}
    return {
        "to_first_model_request": moments["first model request"] - sent,
        "to_agent_step": moments["agent step started"] - sent,
        "last_answer_to_pr": moments["PR request"] - moments["last model answer"],
        "checkout": moments["checkout ended"] - moments["checkout started"],
        **parts,
    }


def cli_floor(stack: Stack, cwd: Path) -> tuple[float, float]:
    """The CLI's own time, which the bot cannot shorten, measured right after each work order on the same load:
    (start-up: from asking the bot's ClaudeCli to run, in bwrap as the bot runs it, to the first model request;
    wind-up: from the model's last answer to ClaudeCli returning the result).

    In the same files with the same kind of `.git` file (the CLI looks around its folder as it starts; in the
    sandbox a worktree's git folder is not mounted, so this one points nowhere either)."""
    env = agent_env(os.environ["PATH"], {"ANTHROPIC_BASE_URL": stack.model.url, "ANTHROPIC_API_KEY": API_KEY})
    cli = ClaudeCli(str(CLAUDE), env, build_sandbox("bwrap", os.environ["PATH"]))
    if not cwd.exists():
        git("clone", "--quiet", f"file://{stack.remote}", str(cwd), cwd=cwd.parent)
        shutil.rmtree(cwd / ".git")
        (cwd / ".git").write_text(f"gitdir: {cwd.parent}/not-mounted/worktrees/{cwd.name}\n")
    stack.model.clear_requests()
    started = time.time()
    asyncio.run(cli.run(AgentRequest(f"floor {cwd.name}", cwd, "claude-sonnet-4-5", 1, ("Read",), 30)))
    ended = time.time()
    model = [r for r in stack.model.requests() if r["path"] == "/v1/messages"]
    return float(model[0]["received"] - started), float(ended - max(r["finished"] for r in model))


def print_parts(title: str, parts: tuple[tuple[str, str, str], ...], warm: list[dict[str, float]]) -> None:
    print(title)
    for _, _, label in parts:
        print(f"  {statistics.median(f[label] for f in warm) * 1000:7.1f} ms  {label}")


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
            figures = []
            for n in range(runs):
                figure = run_one(stack, 500 + n)
                figure["floor"], figure["wind-up"] = cli_floor(stack, Path(root) / "floor")
                figures.append(figure)
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
    print_parts("where the time to the first model request goes (medians, warm):", START_PARTS, warm)
    own = sorted(f["to_agent_step"] * 1000 for f in warm)
    print(f"the bot's own part (webhook received → the agent step starts, before the prompt and the CLI): median "
          f"{statistics.median(own):.0f} ms (range {own[0]:.0f}–{own[-1]:.0f})")
    bots = [f["to_first_model_request"] - f["checkout"] - f["floor"] for f in warm]
    print(f"the CLI's own start-up (the bot's ClaudeCli in bwrap → first request, alone, after each work order): "
          f"median {statistics.median(f['floor'] for f in warm) * 1000:.0f} ms; the bot's share of the path "
          f"(minus checkout and that floor, paired): median {statistics.median(bots) * 1000:.0f} ms")
    print_parts("where the time from the last model answer to the PR request goes (medians, warm):", END_PARTS, warm)
    ends = [f["last_answer_to_pr"] - f["wind-up"] for f in warm]
    print(f"the CLI's own wind-up (last answer → ClaudeCli returns, alone, after each work order): median "
          f"{statistics.median(f['wind-up'] for f in warm) * 1000:.0f} ms; the bot's share of that path (paired): "
          f"median {statistics.median(ends) * 1000:.0f} ms")
    print(f"checkout: first work order (mirror clone + worktree) {first['checkout'] * 1000:.0f} ms; "
          f"later ones (fetch + worktree) median {statistics.median(f['checkout'] for f in warm) * 1000:.0f} ms; "
          f"a fresh `git clone` median {cold * 1000:.0f} ms")


if __name__ == "__main__":
    main()
