"""The worker is another process (as on another machine: only Postgres is shared); the receiver's SSE stream of
the work order's log still gets each entry live, woken by NOTIFY through its one LISTEN connection."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import wait_until
from tests.fleet.harness import FAKE_CLAUDE, Fleet, configure_repository, fetch
from tests.support.sse import sse_events

pytestmark = pytest.mark.postgres
ISSUE = 88
API_TOKEN = "fleet-api-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def lingering_cli(folder: Path, seconds: float) -> Path:
    """The fake CLI, whose implement step goes on `seconds` after its tool use."""
    wrapper = folder / "claude-lingering"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = --version ] || export FAKE_CLAUDE_AFTER_TOOL={seconds:g}\n'
                       f'exec {sys.executable} {FAKE_CLAUDE} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_the_receivers_stream_gets_a_worker_processs_entries_live(fleet: Fleet, tmp_path: Path) -> None:
    configure_repository(fleet.database_url, fleet.remote)
    receiver = fleet.start_receiver(AWO_API_TOKEN=API_TOKEN)  # receives only: the work runs in the worker
    worker = fleet.start_worker("worker-a", CLAUDE_CLI_PATH=str(lingering_cli(tmp_path, 3)))
    worker.worker_id()
    assert receiver.deliver("issues", fleet.issue_payload(ISSUE), "live-logs-1").status_code == 202
    [row] = wait_until(lambda: fetch(fleet.database_url, "SELECT agent_work_order_id FROM archon_agent_work_orders"),
                       timeout=30)
    path = f"/api/agent-work-orders/{row['agent_work_order_id']}/logs/stream"
    seen: list[tuple[float, str, dict[str, Any]]] = []
    listeners: list[Any] = []
    with httpx.Client(base_url=receiver.url, headers=AUTH, timeout=60) as client, \
            client.stream("GET", path) as response:
        assert response.status_code == 200
        for at, name, data in sse_events(response):
            seen.append((at, name, data))
            if name == "log" and data["kind"] == "tool_use":
                listeners = fetch(fleet.database_url, "SELECT pid FROM pg_stat_activity "
                                                      "WHERE query = 'LISTEN agent_work_order_logs' "
                                                      "AND datname = current_database()")
    tool = next(e for e in seen if e[1] == "log" and e[2]["kind"] == "tool_use")
    ended = next(e for e in seen if e[1] == "log" and e[2]["kind"] == "step_finished" and e[2]["step"] == "implement")
    assert tool[2]["step"] == "implement" and tool[2]["message"].startswith("Write work-")
    assert ended[0] - tool[0] > 2, fleet.logs()  # live: seconds before the worker ended the step
    assert len(listeners) == 1  # the receiver's one LISTEN connection (the worker reads no log)
    claimed = next(e for e in seen if e[1] == "log" and e[2]["kind"] == "status")
    assert claimed[2]["data"]["worker"] == worker.worker_id()
    assert seen[-1][1] == "end" and seen[-2][2]["data"]["status"] == "completed"
