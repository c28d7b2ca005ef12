"""Four worker processes on one database: 200 work orders, each done exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.fleet.harness import Fleet, agent_text, fetch, git_branches, queue, wait_for_all

pytestmark = pytest.mark.postgres

WORKERS, ORDERS = 4, 200
STEPS = {"checkout", "implement", "commit", "push", "pull-request"}


def test_four_workers_complete_two_hundred_work_orders_each_exactly_once(fleet: Fleet) -> None:
    workers = fleet.start_workers(WORKERS, concurrency=2)
    started = time.monotonic()
    ids = queue(fleet.database_url, fleet.remote, range(1, ORDERS + 1))
    rows = wait_for_all(fleet, ORDERS, timeout=150)
    elapsed = time.monotonic() - started
    print(f"\n{ORDERS} work orders on {WORKERS} worker processes (2 at a time each): {elapsed:.1f} s, "
          f"{ORDERS / elapsed:.1f} work orders/s")

    assert sorted(r["agent_work_order_id"] for r in rows) == sorted(ids)
    failed = {r["agent_work_order_id"]: r["error_message"] for r in rows if r["status"] != "completed"}
    assert failed == {}
    assert Counter(r["attempt"] for r in rows) == {1: ORDERS}, "a work order was claimed twice"

    steps = fetch(fleet.database_url, "SELECT agent_work_order_id AS id, step, attempt, success "
                                      "FROM archon_agent_work_order_steps")
    per_order = Counter((s["id"], s["step"]) for s in steps)
    assert set(per_order.values()) == {1}, "a step ran twice"
    assert {(s["step"], s["attempt"], s["success"]) for s in steps} == {(name, 1, True) for name in STEPS}
    assert len(steps) == ORDERS * len(STEPS)

    branch_of = {r["git_branch_name"]: r["issue_number"] for r in rows}
    posts = fleet.gh.calls("POST", r"/pulls$")
    assert sorted(p["json"]["head"] for p in posts) == sorted(branch_of), "not one PR request per branch"
    assert {p["status"] for p in posts} == {201}
    assert len({r["pr_url"] for r in rows}) == ORDERS

    assert set(branch_of) <= git_branches(fleet.remote)
    files = fleet.agent_files(list(branch_of.items()))
    assert files == {branch: agent_text(issue) for branch, issue in branch_of.items()}

    by_worker = Counter(next(w.name for w in workers if r["sandbox_identifier"].startswith(str(w.data_dir)))
                        for r in rows)
    print(f"work orders per worker: {dict(sorted(by_worker.items()))}")
    assert set(by_worker) == {w.name for w in workers}, "some worker never got work"
