"""Postgres goes away mid-run and comes back: the server and its worker recover by themselves, nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import REPO, Fleet, PrivateCluster, configure_repository, fetch, wait_for_all

pytestmark = pytest.mark.postgres

BEFORE, DURING = (1, 2, 3), 4




@pytest.fixture
def fleet(tmp_path: Path, cluster: PrivateCluster) -> Iterator[Fleet]:
    running = Fleet(tmp_path, cluster.url)
    try:
        yield running
    finally:
        running.stop()


def test_a_database_outage_costs_no_delivery_and_no_work_order(fleet: Fleet, cluster: PrivateCluster) -> None:
    configure_repository(cluster.url, fleet.remote)
    server = fleet.start_receiver("server", workers=1, agent_sleep=1)
    for issue in BEFORE[:-1]:
        assert server.deliver("issues", fleet.issue_payload(issue), f"delivery-{issue}").status_code == 202
    wait_until(lambda: fetch(cluster.url, "SELECT 1 FROM archon_agent_work_orders WHERE status = 'running'"))
    # the last one is still being taken in (GitHub calls, rows) when the database goes
    assert server.deliver("issues", fleet.issue_payload(BEFORE[-1]), f"delivery-{BEFORE[-1]}").status_code == 202
    cluster.stop()
    stopped = time.monotonic()
    refused = server.deliver("issues", fleet.issue_payload(DURING), f"delivery-{DURING}")
    answered = time.monotonic() - stopped
    assert refused.status_code == 503, refused.text
    assert answered < 6, "the 503 must come well inside GitHub's 10 s delivery timeout"
    health = server.health()
    assert (health.status_code, health.json()["database"]["status"]) == (503, "unhealthy")

    cluster.start()
    restarted = time.monotonic()
    wait_until(lambda: server.health().status_code == 200, timeout=10, every=0.2)  # by itself, in seconds
    print(f"\n503 answered {answered:.1f} s after the stop; /health healthy again "
          f"{time.monotonic() - restarted:.1f} s after the restart")
    assert server.deliver("issues", fleet.issue_payload(DURING), f"delivery-{DURING}").status_code == 202

    rows = wait_for_all(fleet, len(BEFORE) + 1, timeout=90)
    print(f"all work orders ended {time.monotonic() - restarted:.1f} s after the restart "
          f"(attempts: {sorted(r['attempt'] for r in rows)})")
    assert sorted((r["issue_number"], r["status"]) for r in rows) == [(n, "completed") for n in (*BEFORE, DURING)]
    pulls = fleet.gh.pulls(REPO)
    assert sorted(p["head"] for p in pulls) == sorted(r["git_branch_name"] for r in rows)
    comments = fleet.final_comments([r["issue_number"] for r in rows])
    for row in rows:
        bodies = comments[row["issue_number"]]
        assert len(bodies) == 1, f"#{row['issue_number']} has {len(bodies)} comments: {bodies}"
        assert "✅ Done" in bodies[0] and row["pr_url"] in bodies[0], bodies[0]
    deliveries = fetch(cluster.url, "SELECT delivery_id, outcome FROM archon_agent_work_order_deliveries")
    queued = {d["delivery_id"]: d["outcome"] for d in deliveries}
    assert queued == {r["delivery_id"]: f"queued {r['agent_work_order_id']}" for r in rows}
