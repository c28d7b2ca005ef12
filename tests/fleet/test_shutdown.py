"""SIGTERM (systemd, Docker, Kubernetes) stops `awo worker` and `awo serve` gracefully: the agent's process group
is killed once the grace period is over, the work order goes back to the queue without using up an attempt,
and restarts never wedge an issue."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import REPO, Fleet, Proc, Row, command_line, configure_repository, fetch
from tests.fleet.test_crash import alive

pytestmark = pytest.mark.postgres

ISSUE = 77
SHORT_GRACE = {"AWO_SHUTDOWN_GRACE_SECONDS": "1"}


def orders(fleet: Fleet) -> list[Row]:
    return fetch(fleet.database_url, "SELECT * FROM archon_agent_work_orders ORDER BY created_at")


def sigterm_while_the_agent_runs(proc: Proc) -> float:
    """Send SIGTERM once the CLI runs; seconds until the process exited (cleanly, its CLI gone)."""
    agents = wait_until(lambda: [p for p in proc.agent_pids() if "--version" not in command_line(p)], timeout=30)
    sent = time.monotonic()
    proc.popen.send_signal(signal.SIGTERM)
    code = proc.popen.wait(timeout=30)
    took = time.monotonic() - sent
    # uvicorn re-raises the signal once it has shut down, so `serve` ends "killed by SIGTERM" (systemd counts that
    # as a clean stop), after its shutdown ran; the worker exits 0
    clean = -signal.SIGTERM if "Uvicorn running" in proc.log() else 0
    assert code == clean and "stopping" in proc.log(), f"{proc.name} exited with {code}:\n{proc.log()[-3000:]}"
    assert not any(alive(pid) for pid in agents), "the Claude CLI was orphaned"
    return took


def test_three_sigterms_during_one_work_order_cost_no_attempt_and_the_issue_runs_on(fleet: Fleet) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver()
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "sigterm-1").status_code == 202
    [ack] = wait_until(lambda: fleet.gh.comments(REPO, ISSUE))

    exits = []
    for n, start in enumerate(("worker", "serve", "worker"), 1):
        if start == "worker":
            proc = fleet.start_worker(f"stopped-{n}", agent_sleep=60, **SHORT_GRACE)
        else:
            proc = fleet.start_receiver(f"stopped-{n}", workers=1, agent_sleep=60, **SHORT_GRACE).proc
        exits.append(sigterm_while_the_agent_runs(proc))
        [row] = orders(fleet)
        assert (row["status"], row["lease_owner"]) == ("pending", None), proc.log()[-3000:]
        assert (row["attempt"], row["max_attempts"]) == (n, 3 + n), "a graceful stop used up an attempt"
        handed_back = [line for line in proc.log().splitlines() if "handed back to the queue" in line]
        assert len(handed_back) == 1 and row["agent_work_order_id"] in handed_back[0], proc.log()[-3000:]
    print(f"\nSIGTERM → exit with a running work order (grace 1 s): {', '.join(f'{t:.2f} s' for t in exits)}")
    assert max(exits) < 10

    fleet.start_worker("finisher")
    done = wait_until(lambda: (rows := orders(fleet)) and rows[0]["status"] != "pending" and
                      rows[0]["status"] != "running" and rows[0], timeout=60)
    assert (done["status"], done["attempt"], done["error_message"]) == ("completed", 4, None), fleet.logs()
    bodies = fleet.final_comments([ISSUE])[ISSUE]
    assert [c["id"] for c in fleet.gh.comments(REPO, ISSUE)] == [ack["id"]], bodies
    assert "✅ Done" in bodies[0] and done["pr_url"] in bodies[0], bodies[0]

    # the issue is not wedged: the next trigger on it runs too
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "sigterm-2").status_code == 202
    rows = wait_until(lambda: len(r := orders(fleet)) == 2 and r[1]["status"] in ("completed", "failed") and r,
                      timeout=60)
    assert [r["status"] for r in rows] == ["completed", "completed"], fleet.logs()


def test_sigterm_lets_a_running_work_order_finish_within_the_grace_period(fleet: Fleet) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver()
    worker = fleet.start_worker("graceful", agent_sleep=2, AWO_SHUTDOWN_GRACE_SECONDS="60")
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "graceful-1").status_code == 202
    took = sigterm_while_the_agent_runs(worker)
    print(f"\nSIGTERM → exit, the running work order finished first: {took:.2f} s")
    [row] = orders(fleet)
    assert (row["status"], row["attempt"], row["lease_owner"]) == ("completed", 1, None), worker.log()[-3000:]
    assert "SIGTERM received" in worker.log()
    bodies = fleet.final_comments([ISSUE])[ISSUE]
    assert len(bodies) == 1 and "✅ Done" in bodies[0], bodies


@pytest.mark.parametrize("start", ["worker", "serve"])
def test_ctrl_c_twice_ends_the_grace_period_and_hands_the_work_order_back(fleet: Fleet, start: str) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver()
    long_grace = {"AWO_SHUTDOWN_GRACE_SECONDS": "120"}
    if start == "worker":
        proc = fleet.start_worker("impatient", agent_sleep=120, **long_grace)
    else:
        proc = fleet.start_receiver("impatient", workers=1, agent_sleep=120, **long_grace).proc
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), f"ctrl-c-{start}").status_code == 202
    agents = wait_until(lambda: [p for p in proc.agent_pids() if "--version" not in command_line(p)], timeout=30)
    proc.popen.send_signal(signal.SIGINT)
    wait_until(lambda: "stopping" in proc.log(), timeout=10)
    sent = time.monotonic()
    proc.popen.send_signal(signal.SIGINT)
    proc.popen.wait(timeout=30)
    print(f"\nsecond Ctrl-C → exit ({start}): {time.monotonic() - sent:.2f} s")
    assert not any(alive(pid) for pid in agents), "the Claude CLI was orphaned"
    [row] = orders(fleet)
    assert (row["status"], row["lease_owner"], row["max_attempts"]) == ("pending", None, 4), proc.log()[-3000:]
