"""The worker fleet on one Postgres database: claim latency, throughput by fleet size, and crash recovery time.

- claim latency: 4 processes call PostgresStore.claim as fast as they can on a table of ready work orders,
  then on a queue with nothing runnable (what an idle worker's poll costs)
- throughput: 1, 2 and 4 `awo worker` processes (2 work orders at a time each) on 96 work orders whose agent
  answers after 2 s, I/O-bound like a real model: work orders per minute by fleet size, and the ratio of 4 x 2
  to 1 x 2. Every work order must run once (attempt 1, each step recorded once, one PR request per branch).
  The agent is tests/support/fake_claude.py with a 2 s model turn, not the real CLI: each real CLI run costs
  about a second of CPU (node start-up), so 8 of them at once on a 2-core machine would measure the CPU, not
  the fleet (the CLI's own start-up is measured by benchmarks/work_order.py)
- recovery: a worker is killed (kill -9, its agent too) mid-step; the time until another worker runs its work
  order again, with a 2 s lease

Run with `python -m benchmarks.fleet`; needs the shared PostgreSQL (AWO_TEST_DATABASE_URL, see
tests/integration/conftest.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import summary
from bot.store.postgres import PostgresStore
from tests.e2e.harness import wait_until
from tests.fleet.harness import Fleet, fetch, migrated_database, queue, wait_for_all

CLAIMERS, READY, IDLE_CLAIMS = 4, 1000, 200
FLEET_SIZES, ORDERS, MODEL_SECONDS = (1, 2, 4), 96, 2.0
KILLS, LEASE = 5, 2.0


async def _claims(database_url: str, worker_id: str) -> tuple[list[float], list[float]]:
    """Claim until nothing is runnable, then poll the empty queue; the seconds each claim took."""
    store = PostgresStore(database_url, max_size=1)
    await store.open()
    try:
        ready: list[float] = []
        while True:
            started = time.perf_counter()
            claimed = await store.claim(worker_id, 600)
            if claimed is None:
                break
            ready.append(time.perf_counter() - started)
        idle = []
        for _ in range(IDLE_CLAIMS):
            started = time.perf_counter()
            await store.claim(worker_id, 600)
            idle.append(time.perf_counter() - started)
        return ready, idle
    finally:
        await store.close()


def claim_all(args: tuple[str, str]) -> tuple[list[float], list[float]]:
    return asyncio.run(_claims(*args))


def claim_latency() -> None:
    with migrated_database() as url, tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        queue(url, Path(root), range(1, READY + 1))
        with multiprocessing.get_context("spawn").Pool(CLAIMERS) as pool:
            results = pool.map(claim_all, [(url, f"bench-{n}") for n in range(CLAIMERS)])
        claimed = fetch(url, "SELECT count(*) AS n, count(DISTINCT lease_owner) AS owners, max(attempt) AS most "
                             "FROM archon_agent_work_orders WHERE status = 'running'")[0]
    ready = [t for r, _ in results for t in r]
    idle = [t for _, i in results for t in i]
    print(summary(f"claim, {CLAIMERS} processes draining {READY} ready work orders", ready))
    print(summary(f"claim finding nothing ({READY} running, leases held), {CLAIMERS} processes", idle))
    print(f"  {claimed['n']} claimed by {claimed['owners']} processes, highest attempt {claimed['most']} "
          f"(1 = nothing claimed twice)")


def throughput(workers: int) -> float:
    """Work orders per minute of `workers` processes x 2 slots, once each of ORDERS work orders has ended."""
    with migrated_database() as url, tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        fleet = Fleet(Path(root), url)
        try:
            procs = [fleet.start_worker(f"worker-{n}", 2, agent_sleep=MODEL_SECONDS) for n in range(workers)]
            for proc in procs:
                proc.worker_id()
            started = time.monotonic()
            queue(url, fleet.remote, range(1, ORDERS + 1))
            rows = wait_for_all(fleet, ORDERS, timeout=600)
            elapsed = time.monotonic() - started
            doubles = double_claims(fleet, rows)
        finally:
            fleet.stop()
    assert all(r["status"] == "completed" for r in rows), [r["error_message"] for r in rows]
    assert doubles == 0, f"{doubles} double claims"
    return ORDERS / elapsed * 60


def double_claims(fleet: Fleet, rows: list[dict[str, object]]) -> int:
    """Work orders run more than once: a second attempt, a step recorded twice, or a second PR request."""
    steps = fetch(fleet.database_url, "SELECT agent_work_order_id AS id, step FROM archon_agent_work_order_steps")
    twice = {id_ for (id_, _), n in Counter((s["id"], s["step"]) for s in steps).items() if n > 1}
    heads = Counter(p["json"]["head"] for p in fleet.gh.calls("POST", r"/pulls$"))
    twice |= {r["agent_work_order_id"] for r in rows if r["attempt"] != 1 or heads[r["git_branch_name"]] != 1}
    return len(twice)


def one_kill(fleet: Fleet, issue: int) -> tuple[float, float]:
    """Kill the worker running a work order at a random moment of its agent step; (seconds to rerun, lease left)."""
    victim = fleet.start_worker(f"victim-{issue}", agent_sleep=300)
    victim.worker_id()
    queue(fleet.database_url, fleet.remote, range(issue, issue + 1))
    wait_until(victim.agent_pids, timeout=30)
    rescuer = fleet.start_worker(f"rescuer-{issue}")
    rescuer_id = rescuer.worker_id()
    time.sleep(random.uniform(0, LEASE))
    victim.kill()
    killed = time.monotonic()
    sql = "SELECT lease_owner, lease_expires_at - now() AS left FROM archon_agent_work_orders WHERE issue_number = %s"
    left = fetch(fleet.database_url, sql, (issue,))[0]["left"].total_seconds()
    wait_until(lambda: fetch(fleet.database_url, sql, (issue,))[0]["lease_owner"] == rescuer_id,
               timeout=30, every=0.01)
    rerun = time.monotonic() - killed
    wait_for_all(fleet, issue, timeout=60)
    rescuer.kill()
    return rerun, left


def recovery() -> list[tuple[float, float]]:
    with migrated_database() as url, tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        fleet = Fleet(Path(root), url, lease_seconds=LEASE, poll_seconds=0.2)
        try:
            return [one_kill(fleet, issue) for issue in range(1, KILLS + 1)]
        finally:
            fleet.stop()


def main(parts: list[str]) -> None:
    """Every part, or only those named on the command line (claims, throughput, recovery)."""
    chosen = set(parts) or {"claims", "throughput", "recovery"}
    if "claims" in chosen:
        claim_latency()
    if "throughput" in chosen:
        scaling()
    if "recovery" in chosen:
        report_recovery()


def scaling() -> None:
    rates = {}
    for workers in FLEET_SIZES:
        rates[workers] = throughput(workers)
        print(f"throughput, {workers} worker process{'es' if workers > 1 else ''} x 2 at a time, {ORDERS} work "
              f"orders, agent answering after {MODEL_SECONDS:g} s: {rates[workers]:.1f} work orders/min, "
              "0 double claims")
    ratio = rates[FLEET_SIZES[-1]] / rates[1]
    print(f"scaling: {FLEET_SIZES[-1]} x 2 finish {ratio:.2f}x the work orders per minute of 1 x 2 (target >= 3)")


def report_recovery() -> None:
    kills = recovery()
    reruns = [r for r, _ in kills]
    print(f"killed worker → its work order running again elsewhere (lease {LEASE:g} s, heartbeat every "
          f"{LEASE / 3:.2f} s, poll 0.2 s): median {statistics.median(reruns):.2f} s, max {max(reruns):.2f} s "
          f"over {KILLS} kills at random moments; each (rerun after / lease left at the kill): "
          + ", ".join(f"{r:.2f}/{left:.2f} s" for r, left in kills))


if __name__ == "__main__":
    main(sys.argv[1:])
