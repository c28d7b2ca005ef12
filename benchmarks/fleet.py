"""The worker fleet on one Postgres database: claim latency, throughput by fleet size, and crash recovery time.

- claim latency: 4 processes call PostgresStore.claim as fast as they can on a table of ready work orders,
  then on a queue with nothing runnable (what an idle worker's poll costs)
- throughput: 1, 2 and 4 `awo worker` processes (2 work orders at a time each) on 60 work orders with the
  fast fake agent (tests/support/fake_claude.py), so this is the bot's own overhead: checkout, commit, push, PR
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
import tempfile
import time
from pathlib import Path

from benchmarks.common import summary
from bot.store.postgres import PostgresStore
from tests.e2e.harness import wait_until
from tests.fleet.harness import Fleet, fetch, migrated_database, queue, wait_for_all

CLAIMERS, READY, IDLE_CLAIMS = 4, 1000, 200
FLEET_SIZES, ORDERS = (1, 2, 4), 60
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
    with migrated_database() as url, tempfile.TemporaryDirectory(prefix="awo-bench-") as root:
        fleet = Fleet(Path(root), url)
        try:
            fleet.start_workers(workers, concurrency=2)
            started = time.monotonic()
            queue(url, fleet.remote, range(1, ORDERS + 1))
            rows = wait_for_all(fleet, ORDERS, timeout=600)
            elapsed = time.monotonic() - started
        finally:
            fleet.stop()
    assert all(r["status"] == "completed" and r["attempt"] == 1 for r in rows)
    return ORDERS / elapsed


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


def main() -> None:
    claim_latency()
    for workers in FLEET_SIZES:
        rate = throughput(workers)
        print(f"throughput, {workers} worker process{'es' if workers > 1 else ''} x 2 at a time, {ORDERS} work "
              f"orders, fake agent: {rate:.1f} work orders/s")
    kills = recovery()
    reruns = [r for r, _ in kills]
    print(f"killed worker → its work order running again elsewhere (lease {LEASE:g} s, heartbeat every "
          f"{LEASE / 3:.2f} s, poll 0.2 s): median {statistics.median(reruns):.2f} s, max {max(reruns):.2f} s "
          f"over {KILLS} kills at random moments; each (rerun after / lease left at the kill): "
          + ", ".join(f"{r:.2f}/{left:.2f} s" for r, left in kills))


if __name__ == "__main__":
    main()
