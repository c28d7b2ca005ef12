"""A worker dies mid-step (kill -9, its agent too); another finishes the work order once its lease expires."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import free_port, wait_until
from tests.fleet.harness import REPO, Fleet, Row, agent_file, agent_text, configure_repository, fetch, git_branches
from tests.gitrepo import show

pytestmark = pytest.mark.postgres

ISSUE = 42


def the_work_order(fleet: Fleet) -> Row:
    [row] = fetch(fleet.database_url, "SELECT *, lease_expires_at - now() AS lease_left FROM archon_agent_work_orders")
    return row


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] != "Z"


def test_a_killed_workers_work_order_is_finished_by_another_with_one_pr_and_one_comment(fleet: Fleet) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver()
    worker_a = fleet.start_worker("worker-a", agent_sleep=300)
    a_id = worker_a.worker_id()

    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "crash-delivery-1").status_code == 202
    [ack] = wait_until(lambda: fleet.gh.comments(REPO, ISSUE))
    assert [(r["subject"], r["content"]) for r in fleet.gh.reactions(REPO)] == [("issue", "eyes")]
    agents = wait_until(worker_a.agent_pids, timeout=30)
    running = wait_until(lambda: (row := the_work_order(fleet))["progress_comment_id"] == ack["id"] and row)
    assert (running["status"], running["lease_owner"], running["attempt"]) == ("running", a_id, 1)

    metrics_port = free_port()
    worker_b = fleet.start_worker("worker-b", AWO_METRICS_PORT=str(metrics_port))
    b_id = worker_b.worker_id()
    worker_a.kill()
    killed = time.monotonic()
    wait_until(lambda: not any(alive(pid) for pid in agents), timeout=5)  # the agent died with its worker
    orphaned = the_work_order(fleet)
    assert (orphaned["status"], orphaned["lease_owner"]) == ("running", a_id)

    def taken_over() -> Row | None:
        row = the_work_order(fleet)
        return row if row["lease_owner"] == b_id else None

    rerun = wait_until(taken_over, timeout=fleet.lease_seconds + 15, every=0.01)
    print(f"\nkill → running again under worker B: {time.monotonic() - killed:.2f} s "
          f"(lease {fleet.lease_seconds:g} s, {orphaned['lease_left'].total_seconds():.2f} s of it left at the kill; "
          f"poll {fleet.poll_seconds:g} s)")
    assert rerun["attempt"] == 2

    done = wait_until(lambda: (row := the_work_order(fleet))["status"] != "running" and row, timeout=60)
    assert (done["status"], done["attempt"], done["error_message"]) == ("completed", 2, None), fleet.logs()
    [pull] = fleet.gh.pulls(REPO)
    assert pull["head"] == done["git_branch_name"] and done["pr_url"] == pull["html_url"]
    bodies = fleet.final_comments([ISSUE])[ISSUE]
    assert [c["id"] for c in fleet.gh.comments(REPO, ISSUE)] == [ack["id"]], f"not one comment, edited: {bodies}"
    assert "✅ Done" in bodies[0] and pull["html_url"] in bodies[0], bodies[0]
    assert done["git_branch_name"] in git_branches(fleet.remote)
    assert show(fleet.remote, done["git_branch_name"], agent_file(ISSUE)) + "\n" == agent_text(ISSUE)

    steps = fetch(fleet.database_url, "SELECT step, attempt, success, executed_at FROM archon_agent_work_order_steps "
                                      "ORDER BY step_order")
    assert [(s["step"], s["attempt"]) for s in steps] == [
        ("checkout", 1), ("checkout", 2), ("implement", 2), ("commit", 2), ("push", 2), ("pull-request", 2)]
    assert all(s["success"] for s in steps)
    assert steps[1]["executed_at"] >= orphaned["lease_expires_at"], "B started before A's lease ran out"
    counted = worker_metrics(metrics_port)
    assert (counted["awo_lease_reclaims_total"], counted["awo_claims_total"]) == (1, 1), counted  # B's one claim


def worker_metrics(port: int) -> dict[str, float]:
    """`awo worker`'s own /metrics (AWO_METRICS_PORT), parsed with prometheus-client's parser: name → sum."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums
