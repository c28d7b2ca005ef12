"""Webhook acknowledgement: `awo serve` beside a bare Starlette app that only verifies the HMAC.

Both are real processes under real uvicorn, driven by the same load from a separate process: CONCURRENCY
keep-alive clients sending signed deliveries (mostly comments that mention no trigger phrase, a few
trigger comments from a reader, which intake routes, admits and refuses). Rounds alternate between the
targets, so a noisy machine slows both alike. Per target: deliveries per second, the ratio to the bare app,
p50/p99 latency, server CPU µs per delivery (utime+stime from /proc) and CPU still used in the second
after the last answer (a backlog drained after the burst). Run on SQLite, then on Postgres.

    python -m benchmarks.webhooks [deliveries per round] [rounds] [one trigger in N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import webhook_load
from tests.e2e.harness import SECRET, Stack, free_port, wait_until
from tests.payloads import example

CONCURRENCY = 16
# One delivery in 100 is a trigger comment (from a reader, so intake routes it, asks GitHub for the
# permission and refuses it; nothing runs). Each costs intake several ms of CPU after the answer.
TRIGGER_EVERY = 100
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    seconds: float
    latencies: list[float]
    cpu: float  # server CPU seconds during the load
    after: float  # server CPU seconds in the second after the last answer


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def bodies(stack: Stack, count: int, trigger_every: int) -> list[tuple[str, bytes]]:
    """(event, body) for each delivery: comments without the phrase, every `trigger_every`-th with it."""
    quiet = example("issue_comment", "created", comment__body="Thanks, looks good to me.")
    loud = stack.comment_payload(7, "@claude please fix the typo", "reader")
    out = []
    for i in range(count):
        payload = loud if i % trigger_every == trigger_every - 1 else quiet
        if payload is loud:
            payload = {**loud, "comment": {**loud["comment"], "id": 10_000_000 + i}}
        out.append(("issue_comment", json.dumps(payload).encode()))
    return out


def run_round(port: int, pid: int, deliveries: list[tuple[str, bytes]], tag: str) -> Round:
    job = Path(tempfile.mkstemp(prefix="awo-load-")[1])
    job.write_text(json.dumps({"port": port, "secret": SECRET, "concurrency": CONCURRENCY, "tag": tag,
                               "deliveries": [(e, b.decode()) for e, b in deliveries]}))
    loader = subprocess.Popen([sys.executable, "-m", "benchmarks.webhook_load", str(job)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = loader.stdout.readline() if loader.stdout else b""  # requests signed; the load starts on our word
    assert ready.strip() == b"ready", ready
    before = cpu_seconds(pid)
    out, _ = loader.communicate(b"")
    done = cpu_seconds(pid)
    time.sleep(1.0)
    after = cpu_seconds(pid) - done
    job.unlink()
    result = json.loads(out)
    return Round(result["seconds"], result["latencies"], done - before, after)


def report(name: str, rounds: list[Round], count: int, bare: float | None) -> float:
    rate = statistics.median(count / r.seconds for r in rounds)
    latencies = sorted(x for r in rounds for x in r.latencies)
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    cpu = statistics.median(r.cpu / count * 1e6 for r in rounds)
    after = statistics.median(r.after for r in rounds)
    ratio = f", {rate / bare:.2f}x bare" if bare else ""
    print(f"  {name:<10} {rate:7.0f} deliveries/s{ratio}; p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"CPU {cpu:.0f} us/delivery; busy after burst {after * 1000:.0f} ms CPU", flush=True)
    return rate


def start_bare() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.webhook_load", "--bare", str(port)])
    wait_until(lambda: webhook_load.answers(port), timeout=30)
    return server, port


def compare(label: str, count: int, rounds: int, trigger_every: int = TRIGGER_EVERY, **env: str) -> None:
    with tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        stack = Stack(Path(root), LOG_LEVEL="INFO", **env)
        bare, bare_port = start_bare()
        try:
            stack.configure_repo()
            deliveries = bodies(stack, count, trigger_every)
            run_round(bare_port, bare.pid, deliveries[:200], "warm")
            run_round(stack.port, stack.server.pid, deliveries[:200], "warm")
            results: dict[str, list[Round]] = {"bare": [], "awo serve": []}
            for i in range(rounds):
                results["bare"].append(run_round(bare_port, bare.pid, deliveries, f"b{i}"))
                results["awo serve"].append(run_round(stack.port, stack.server.pid, deliveries, f"a{i}"))
            print(f"{label}: {rounds} rounds x {count} signed deliveries, {CONCURRENCY} keep-alive clients, "
                  f"1 in {trigger_every} a trigger")
            rate = report("bare", results["bare"], count, None)
            report("awo serve", results["awo serve"], count, rate)
        finally:
            bare.terminate()
            bare.wait(10)
            stack.stop()


def main(count: int = 2000, rounds: int = 5, trigger_every: int = TRIGGER_EVERY) -> None:
    compare("SQLite (WAL)", count, rounds, trigger_every)
    from tests.fleet.harness import migrated_database

    with migrated_database() as url:
        compare("Postgres", count, rounds, trigger_every, STATE_STORAGE_TYPE="postgres", DATABASE_URL=url)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
