"""`awo list` and `awo show` as a user runs them: the installed command against a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from bot.models import Status, Step, WorkOrder
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.store.factory import build_store
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import API_TOKEN, make_settings

ROOT = Path(__file__).resolve().parents[2]  # this checkout's code runs, whatever the venv installed (mutations)
BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "fix it\x1b]0;pwned\x07\x1b[2J\u202eevil\r\nnext"


def fill(settings: Settings) -> None:
    async def main() -> None:
        store = build_store(settings)
        await store.open()
        for n, status in enumerate((Status.COMPLETED, Status.FAILED, Status.PENDING)):
            await store.create_work_order(WorkOrder(
                agent_work_order_id=f"wo-000{n}", repository_url=f"https://github.com/octo/repo-{n % 2}",
                repo_full_name=f"octo/repo-{n % 2}", issue_number=10 + n, status=status, user_request=HOSTILE,
                total_cost_usd=0.1234 * n, num_turns=3, created_at=BASE + timedelta(minutes=n),
                pr_url="https://github.com/octo/repo-0/pull/5" if n == 0 else None,
                git_branch_name=f"claude/issue-{10 + n}", error_message="boom\x1b[31m red" if n == 1 else None))
        await store.add_step(Step(agent_work_order_id="wo-0000", step="checkout", agent_name="BranchCreator",
                                  success=True, duration_seconds=0.4, step_order=1))
        await store.add_step(Step(agent_work_order_id="wo-0000", step="implement", agent_name="Implementor",
                                  success=True, duration_seconds=75, step_order=2, cost_usd=0.0123, num_turns=4))
        await store.close()

    asyncio.run(main())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = make_settings(tmp_path, storage_type="sqlite")
    fill(settings)
    runtime = build_runtime(settings, github=FakeGitHub(), agent=FakeAgent())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(runtime), lifespan="on", log_config=None, access_log=False)
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    served.should_exit = True
    thread.join(20)
    sock.close()


def awo(*args: str, url: str, token: str | None = API_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AWO_URL": url,
           "PYTHONPATH": str(ROOT)}
    if token is not None:
        env["AWO_API_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_list_shows_a_table_newest_first_and_filters(server: str) -> None:
    listed = awo("list", url=server)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "REPOSITORY"]
    assert [r.split()[:4] for r in rows] == [["wo-0002", "pending", "octo/repo-0", "#12"],
                                            ["wo-0001", "failed", "octo/repo-1", "#11"],
                                            ["wo-0000", "completed", "octo/repo-0", "#10"]]
    assert "https://github.com/octo/repo-0/pull/5" in rows[2] and "$0.25" in rows[0]
    failed = awo("list", "--status", "failed", url=server).stdout.splitlines()
    assert [r.split()[0] for r in failed[1:]] == ["wo-0001"]
    repo = awo("list", "--repo", "octo/repo-0", "--limit", "1", url=server).stdout.splitlines()
    assert [r.split()[0] for r in repo[1:]] == ["wo-0002"]
    assert awo("list", "--status", "cancelled", url=server).stdout.strip() == "no work orders match"


def test_list_json_is_the_apis_array_with_archons_fields(server: str) -> None:
    listed = awo("list", "--json", "--limit", "2", url=server)
    orders = json.loads(listed.stdout)
    assert [o["agent_work_order_id"] for o in orders] == ["wo-0002", "wo-0001"]
    assert orders[1]["github_issue_number"] == "11" and orders[1]["user_request"] == HOSTILE


def test_show_prints_the_work_order_its_steps_and_links(server: str) -> None:
    shown = awo("show", "wo-0000", url=server)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.splitlines()[0].split() == ["wo-0000", "completed", "octo/repo-0#10"]
    assert "Pull request: https://github.com/octo/repo-0/pull/5" in out
    assert "Issue:        https://github.com/octo/repo-0/issues/10" in out
    assert "Branch:       claude/issue-10" in out
    checkout, implement = [line.split() for line in out.splitlines() if line.startswith("    ")]
    assert checkout[1:4] == ["checkout", "ok", "0.4"]
    assert implement[1:] == ["implement", "ok", "1m", "15s", "·", "$0.01", "·", "4", "turns"]
    as_json = json.loads(awo("show", "wo-0000", "--json", url=server).stdout)
    assert as_json["work_order"]["current_phase"] == "completed" and len(as_json["steps"]) == 2


def test_text_from_github_cannot_drive_the_terminal(server: str) -> None:
    """A request or error holding escape sequences (retitle, clear screen, colour) or a bidi override prints as
    inert text: no ESC, BEL, CR or U+202E reaches the terminal."""
    for args in (("list",), ("show", "wo-0001")):
        out = awo(*args, url=server).stdout
        assert not any(c in out for c in "\x1b\x07\r\u202e"), repr(out)
    assert "Request:      fix it]0;pwned[2Jevil next" in awo("show", "wo-0001", url=server).stdout


def test_errors_are_one_clear_line(server: str, tmp_path: Path) -> None:
    unknown = awo("show", "wo-nothere", url=server)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, f"awo: no work order wo-nothere on {server}")
    bad_token = awo("list", url=server, token="wrong-token")
    assert bad_token.returncode == 1
    assert bad_token.stderr.strip() == (f"awo: the server at {server} refused the API token: set AWO_API_TOKEN "
                                        "to its token")
    no_token = awo("list", url=server, token=None)
    assert no_token.returncode == 1 and no_token.stderr.strip().startswith("awo: AWO_API_TOKEN is not set")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    down = awo("list", url=down_url)
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert down.stderr.startswith(f"awo: cannot reach the server at {down_url} (ConnectError)")
    odd = awo("show", "../repositories", url=server)
    assert odd.returncode == 1 and "is not a work order id" in odd.stderr
    bad_repo = awo("list", "--repo", "not a repo", url=server)
    assert bad_repo.returncode == 1 and "answered 422: repository:" in bad_repo.stderr
    assert awo("list", "--limit", "0", url=server).returncode == 2  # argparse: a usage error
    assert awo("list", url="ftp://example.com").stderr.startswith("awo: configuration error: AWO_URL")
