"""Real processes: GitHub refuses a worker's final comment edit, the worker is killed -9, and another worker
delivers the report from the outbox — the one comment ends true and the API never claimed more than it had."""

from __future__ import annotations

import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import REPO, Fleet, Row, configure_repository, fetch

pytestmark = pytest.mark.postgres

ISSUE = 43


def the_work_order(fleet: Fleet) -> Row:
    [row] = fetch(fleet.database_url, "SELECT * FROM archon_agent_work_orders")
    return row


def test_a_report_refused_by_github_survives_its_workers_death_and_lands_once(fleet: Fleet) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver()
    worker_a = fleet.start_worker("worker-a", agent_sleep=2)  # time to make GitHub fail
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "outbox-delivery-1").status_code == 202
    [ack] = wait_until(lambda: fleet.gh.comments(REPO, ISSUE))
    wait_until(lambda: the_work_order(fleet)["progress_comment_id"] == ack["id"])
    fleet.gh.fault("PATCH", r"/issues/comments/\d+$", status=422, times=None)  # GitHub refuses every edit now

    try:
        done = wait_until(lambda: (row := the_work_order(fleet))["status"] in ("completed", "failed") and row,
                          timeout=60)
    except AssertionError:
        raise AssertionError(f"{the_work_order(fleet)}\n{fleet.logs()}") from None
    assert (done["status"], done["report_pending"]) == ("completed", True), fleet.logs()  # the API says so
    [stale] = fleet.gh.comments(REPO, ISSUE)
    assert "✅ Done" not in stale["body"]
    worker_a.kill()

    fleet.gh.clear_faults()
    fleet.start_worker("worker-b")
    wait_until(lambda: not the_work_order(fleet)["report_pending"], timeout=30)
    [comment] = fleet.gh.comments(REPO, ISSUE)
    assert comment["id"] == ack["id"]
    assert "✅ Done" in comment["body"] and str(done["pr_url"]) in comment["body"], comment["body"]
