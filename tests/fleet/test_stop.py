"""`@claude stop` delivered to a receiver stops the agent a worker process runs (another process, as on another
machine: only the database is shared); `@claude retry` then runs the same work order again to the end."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import FAKE_CLAUDE, REPO, Fleet, Row, configure_repository, fetch
from tests.fleet.test_crash import alive
from tests.payloads import example

pytestmark = pytest.mark.postgres

ISSUE = 77


def slow_cli(folder: Path) -> tuple[Path, Path]:
    """The fake CLI, taking as many seconds per run as the file `sleep` says at its start (changed mid-test)."""
    sleep = folder / "sleep"
    sleep.write_text("300")
    wrapper = folder / "claude-adjustable"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = --version ] || export FAKE_CLAUDE_SLEEP="$(cat {sleep})"\n'
                       f'exec {sys.executable} {FAKE_CLAUDE} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, sleep


def said(fleet: Fleet, body: str) -> dict[str, Any]:
    """Codertocat (a writer) comments `body` on the issue; the issue_comment.created payload GitHub sends."""
    fleet.gh.seed({"comments": {REPO: [{"issue_number": ISSUE, "body": body, "user": "Codertocat"}]}})
    comment = [c for c in fleet.gh.comments(REPO, ISSUE) if c["body"] == body][-1]
    return example("issue_comment", "created", issue__number=ISSUE, issue__title="Stop test", issue__body="",
                   comment__body=body, comment__id=comment["id"], comment__user__login="Codertocat",
                   sender__login="Codertocat", repository__clone_url=str(fleet.remote))


def rows(fleet: Fleet) -> list[Row]:
    return fetch(fleet.database_url, "SELECT * FROM archon_agent_work_orders")


def body_of(fleet: Fleet, comment_id: int) -> str:
    return next(str(c["body"]) for c in fleet.gh.comments(REPO, ISSUE) if c["id"] == comment_id)


def test_stop_kills_the_agent_on_the_worker_process_and_retry_runs_it_again(fleet: Fleet, tmp_path: Path) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    cli, sleep = slow_cli(tmp_path)
    receiver = fleet.start_receiver()  # receives only: the work runs in the worker process
    worker = fleet.start_worker("worker-a", CLAUDE_CLI_PATH=str(cli))
    worker.worker_id()

    assert receiver.deliver("issue_comment", said(fleet, "@claude add your file"), "stop-1").status_code == 202
    agents = wait_until(worker.agent_pids, timeout=30)
    [running] = wait_until(lambda: [r for r in rows(fleet) if r["progress_comment_id"]] or None, timeout=30)
    assert running["status"] == "running"

    assert receiver.deliver("issue_comment", said(fleet, "@claude stop"), "stop-2").status_code == 202
    asked = time.monotonic()
    wait_until(lambda: not any(alive(pid) for pid in agents), timeout=5, every=0.05)
    gone = time.monotonic() - asked
    stopped = wait_until(lambda: (r := rows(fleet)[0])["status"] == "cancelled" and r, timeout=10)
    print(f"\n@claude stop → agent process group gone in {gone:.2f} s")
    assert (stopped["error_message"], stopped["lease_owner"]) == ("stopped on request", None), fleet.logs()
    wait_until(lambda: "⏹️ Cancelled" in body_of(fleet, running["progress_comment_id"]), timeout=10)
    assert ("comment", "+1") in [(r["subject"], r["content"]) for r in fleet.gh.reactions(REPO)]

    sleep.write_text("0")
    assert receiver.deliver("issue_comment", said(fleet, "@claude retry"), "stop-3").status_code == 202
    done = wait_until(lambda: (r := rows(fleet)[0])["status"] in ("completed", "failed") and r, timeout=60)
    assert (done["status"], done["attempt"], done["error_message"]) == ("completed", 2, None), fleet.logs()
    assert len(rows(fleet)) == 1, "a command became a work order"
    wait_until(lambda: "✅ Done" in body_of(fleet, running["progress_comment_id"]), timeout=10)
    bot_comments = [c for c in fleet.gh.comments(REPO, ISSUE) if "agent-work-order:" in str(c["body"])]
    assert [c["id"] for c in bot_comments] == [running["progress_comment_id"]], "not one comment, edited"
