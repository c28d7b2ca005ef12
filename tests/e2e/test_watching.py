"""Watching a work order as an operator does: the real server and CLI with the scripted model slowed down; an SSE
client sees a tool use while its step still runs; `awo logs --follow` prints it live (through `awo serve`'s API, on
the same SQLite file as `awo run`); `awo run` shows each step as it starts and the tool in use, as plain lines when
its output is not a terminal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_TOKEN
from tests.e2e.harness import CLAUDE, ROOT, Stack, script_for, wait_until
from tests.e2e.test_cli import awo, local_repo
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.sse import sse_events

pytestmark = pytest.mark.e2e
WRITE_HELLO = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello\n"}}}
SLOW_ANSWER = {"text": "Added hello.txt.", "sleep": 3}  # the step goes on for 3 s after its tool use


def test_an_sse_client_sees_the_tool_use_of_a_running_step_before_the_step_ends(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: write hello.txt"}], [WRITE_HELLO, SLOW_ANSWER]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Say hello slowly")).status_code == 202
    [order] = wait_until(lambda: stack.work_orders(issue), timeout=10)
    path = f"/api/agent-work-orders/{order['agent_work_order_id']}"
    seen: list[tuple[float, str, dict[str, Any]]] = []
    shown_while_running: dict[str, Any] = {}
    steps_while_running: list[str] = []
    with stack.http.stream("GET", f"{path}/logs/stream", timeout=60) as response:
        assert response.status_code == 200
        for at, name, data in sse_events(response):
            seen.append((at, name, data))
            if name == "log" and data["kind"] == "tool_use" and data["step"] == "implement":
                shown_while_running = stack.http.get(path).json()
                steps_while_running = [s["step"] for s in stack.http.get(f"{path}/steps").json()["steps"]]
    tool = next(e for e in seen if e[1] == "log" and e[2]["kind"] == "tool_use")
    ended = next(e for e in seen if e[1] == "log" and e[2]["kind"] == "step_finished" and e[2]["step"] == "implement")
    assert tool[2]["message"] == "Write hello.txt" and tool[2]["step"] == "implement"
    assert ended[0] - tool[0] > 2  # it came live, seconds before its step ended
    assert "implement" not in steps_while_running
    assert (shown_while_running["current_step"], shown_while_running["current_tool_use"]) == (
        "implement", "Write hello.txt")
    assert seen[-1][1] == "end" and seen[-2][2]["kind"] == "status" and seen[-2][2]["data"]["status"] == "completed"
    assert [e[2]["step"] for e in seen if e[1] == "log" and e[2]["kind"] == "step_started"] == [
        "checkout", "plan", "implement", "commit", "push", "pull-request"]


def test_awo_run_prints_each_step_and_tool_use_and_awo_logs_follows_it_live(tmp_path: Path) -> None:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    repo = local_repo(tmp_path)
    with FakeAnthropicServer() as model:
        model.set_script([
            {"match": "step: plan", "turns": [{"text": "Plan: add NOTES.md"}]},
            {"match": "step: implement", "turns": [
                {"tool_use": {"name": "Write", "input": {"file_path": "NOTES.md", "content": "notes\n"}}},
                {"text": "Added NOTES.md", "sleep": 3}]},
        ])
        env = {"CLAUDE_CLI_PATH": str(CLAUDE), "ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "sk-test",
               "SQLITE_PATH": str(tmp_path / "db.sqlite"), "AWO_DATA_DIR": str(tmp_path / "data")}
        full_env = {"PATH": sys_path(), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
        with api_server(tmp_path, full_env) as api_env:
            run = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--repo", str(repo), "--prompt", "notes"],
                                   cwd=tmp_path, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
            assert run.stdout is not None
            first = run.stdout.readline()
            work_order_id = first.split()[2]
            followed, printed_again, missing = follow_run(run, work_order_id, tmp_path, {**env, **api_env})
            out, err = run.communicate(timeout=60)
        assert run.returncode == 0, out + err
    printed = (first + out).splitlines()
    started = printed.index("▶ implement started")
    tool = printed.index("  implement · Write NOTES.md")
    finished = next(i for i, line in enumerate(printed) if line.startswith("- [x] implement"))
    assert started < tool < finished
    assert "\x1b[K" not in out  # not a terminal: plain lines, no updating line
    kinds = [line.split()[2] for line in followed]
    assert kinds[0] == "status" and kinds[-1] == "status" and "completed" in followed[-1]
    assert any("implement" in line and "Write NOTES.md" in line for line in followed)
    assert printed_again.returncode == 0
    assert printed_again.stdout.splitlines() == [line.rstrip("\n") for line in followed]
    assert missing.returncode == 1 and "no work order wo-nothere" in missing.stderr


@contextmanager
def api_server(tmp_path: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`awo serve --workers 0` on the run's SQLite file: what `awo logs` asks (AWO_URL, AWO_API_TOKEN)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api_env = {"AWO_URL": f"http://127.0.0.1:{port}", "AWO_API_TOKEN": API_TOKEN}
    server_env = {**env, **api_env, "AGENT_WORK_ORDERS_HOST": "127.0.0.1", "AGENT_WORK_ORDERS_PORT": str(port),
                  "GITHUB_WEBHOOK_SECRET": "whsec-test"}
    with (tmp_path / "server.log").open("ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--workers", "0"], cwd=tmp_path,
                                  env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: up(api_env["AWO_URL"]), timeout=30)
        yield api_env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code in (200, 503)
    except httpx.TransportError:
        return False


def follow_run(run: subprocess.Popen[str], work_order_id: str, tmp_path: Path, env: dict[str, str]
               ) -> tuple[list[str], subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`awo logs --follow` while the run goes on (each tool use shown before the run ends), then `awo logs` of
    the ended work order and of an unknown id."""
    full_env = {"PATH": sys_path(), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
    follow = subprocess.Popen([sys.executable, "-m", "bot.cli", "logs", work_order_id, "--follow"],
                              cwd=tmp_path, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert follow.stdout is not None
    followed: list[str] = []
    for line in follow.stdout:
        followed.append(line)
        if "tool_use" in line:
            assert run.poll() is None, "the tool use showed only after the run ended"
    assert follow.stderr is not None
    assert follow.wait(timeout=30) == 0, follow.stderr.read()
    follow.stdout.close()
    follow.stderr.close()
    return followed, awo("logs", work_order_id, cwd=tmp_path, env=env), awo("logs", "wo-nothere", cwd=tmp_path,
                                                                           env=env)


def sys_path() -> str:
    return os.environ["PATH"]
