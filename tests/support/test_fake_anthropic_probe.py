"""Prove fake_anthropic against the real, pinned Claude CLI (real subprocesses, loopback only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_anthropic import FakeAnthropicServer

REPO_ROOT = Path(__file__).resolve().parents[2]
CLAUDE = REPO_ROOT / "node_modules" / ".bin" / "claude"
ALLOWED_TOOLS = "Write,Edit,Read,Glob,Grep"
# Off: telemetry, error reporting, the auto-updater and the non-essential traffic (HEAD /api/hello,
# the MCP registry and event logging at api.anthropic.com).
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
HELLO = "hello from claude\n"

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason="pinned Claude CLI missing: run npm ci")


def write_turn(path: str, content: str) -> dict[str, Any]:
    return {"tool_use": {"name": "Write", "input": {"file_path": path, "content": content}}}


def cli_argv(prompt: str, max_turns: int = 5) -> list[str]:
    return [
        str(CLAUDE), "-p", prompt,
        "--output-format", "stream-json", "--verbose",
        "--model", "claude-sonnet-4-5",
        "--max-turns", str(max_turns),
        "--permission-mode", "acceptEdits",
        "--allowedTools", ALLOWED_TOOLS,
    ]  # fmt: skip


@dataclass
class Workspace:
    repo: Path
    home: Path
    tmp: Path  # CLAUDE_CODE_TMPDIR: short (it holds a unix socket), else the CLI writes to /tmp/claude-UID


def cli_env(base_url: str, ws: Workspace, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(ws.home), "CLAUDE_CODE_TMPDIR": str(ws.tmp)}
    return {**env, "ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "sk-ant-test-key", **QUIET_ENV, **extra}


@dataclass
class CliRun:
    returncode: int
    lines: list[dict[str, Any]]
    stderr: str
    seconds: float

    def find(self, type_: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [x for x in self.lines if x.get("type") == type_ and (subtype is None or x.get("subtype") == subtype)]

    @property
    def result(self) -> dict[str, Any]:
        results = self.find("result")
        assert len(results) == 1, self.lines
        return results[0]


@pytest.fixture(scope="module")
def cli_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cc-") as tmp:
        yield Path(tmp)


def make_workspace(root: Path, tmp: Path) -> Workspace:
    repo, home = root / "repo", root / "home"
    repo.mkdir(parents=True)
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return Workspace(repo, home, tmp)


@pytest.fixture
def workspace(tmp_path: Path, cli_tmp: Path) -> Workspace:
    return make_workspace(tmp_path, cli_tmp)


@pytest.fixture
def fake() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


def run_cli(
    fake: FakeAnthropicServer, ws: Workspace, prompt: str, max_turns: int = 5, env: dict[str, str] | None = None
) -> CliRun:
    start = time.monotonic()
    proc = subprocess.run(
        cli_argv(prompt, max_turns),
        cwd=ws.repo,
        env=cli_env(fake.url, ws, **(env or {})),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return CliRun(proc.returncode, lines, proc.stderr, time.monotonic() - start)


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ----------------------------------------------------------------------------- the CLI, end to end


def test_write_round_trip(fake: FakeAnthropicServer, workspace: Workspace, record_property: Any) -> None:
    fake.set_script([{"match": "PROBE-WRITE", "turns": [write_turn("hello.txt", HELLO), {"text": "Wrote hello.txt"}]}])

    run = run_cli(fake, workspace, "PROBE-WRITE: create hello.txt")

    assert run.returncode == 0, run.stderr
    assert (workspace.repo / "hello.txt").read_text() == HELLO
    init = run.find("system", "init")[0]
    assert init["session_id"] and init["permissionMode"] == "acceptEdits"
    tool_uses = [b for a in run.find("assistant") for b in a["message"]["content"] if b["type"] == "tool_use"]
    assert [(t["name"], t["input"]["file_path"]) for t in tool_uses] == [("Write", "hello.txt")]
    tool_results = [b for u in run.find("user") for b in u["message"]["content"] if b["type"] == "tool_result"]
    assert tool_results[0]["tool_use_id"] == tool_uses[0]["id"] and not tool_results[0].get("is_error")
    result = run.result
    assert result["subtype"] == "success" and result["is_error"] is False
    assert result["result"] == "Wrote hello.txt" and result["num_turns"] == 2
    assert result["total_cost_usd"] > 0 and result["duration_ms"] >= 0
    assert result["session_id"] == init["session_id"]

    reqs = fake.requests()
    assert [(r["path"], r["caller"], r["rule"], r["turn"], r["kind"]) for r in reqs] == [
        ("/v1/messages", "main", 0, 0, "tool_use"),
        ("/v1/messages", "main", 0, 1, "text"),
    ]
    assert {r["session_id"] for r in reqs} == {init["session_id"]}
    round_trip = reqs[1]["received"] - reqs[0]["finished"]  # tool run in the CLI + its next request
    record_property("write_round_trip_s", round(round_trip, 3))
    record_property("cli_run_s", round(run.seconds, 3))
    print(f"Write round trip {round_trip:.3f}s, whole CLI run {run.seconds:.2f}s")
    assert round_trip < 5


def test_concurrent_runs_follow_the_script_independently(
    fake: FakeAnthropicServer, tmp_path: Path, cli_tmp: Path
) -> None:
    fake.set_script([{"match": "PROBE-PAR", "turns": [write_turn("hello.txt", HELLO), {"text": "Wrote hello.txt"}]}])
    spaces = [make_workspace(tmp_path / str(i), cli_tmp) for i in range(3)]

    with ThreadPoolExecutor(len(spaces)) as pool:
        runs = list(pool.map(lambda ws: run_cli(fake, ws, "PROBE-PAR: create hello.txt"), spaces))

    assert [r.returncode for r in runs] == [0, 0, 0]
    assert all((ws.repo / "hello.txt").read_text() == HELLO for ws in spaces)
    by_session: dict[str, list[int | None]] = {}
    for req in fake.requests():
        by_session.setdefault(req["session_id"], []).append(req["turn"])
    assert sorted(by_session.values()) == [[0, 1]] * 3


@pytest.mark.parametrize(
    ("error", "env", "requests"),
    [
        # A 400 fails at once, after the CLI's quick resends without the betas it suspects (6 requests).
        ({"status": 400, "type": "invalid_request_error", "message": "bad"}, {}, None),
        # 5xx/529 are retried with backoff for minutes unless told not to:
        ({"status": 500, "type": "api_error", "message": "boom", "should_retry": False}, {}, 1),
        ({"status": 529, "type": "overloaded_error", "message": "busy"}, {"CLAUDE_CODE_MAX_RETRIES": "0"}, 1),
    ],
    ids=["400", "500-x-should-retry-false", "529-max-retries-0"],
)
def test_api_error_fails_fast(
    fake: FakeAnthropicServer, workspace: Workspace, error: dict[str, Any], env: dict[str, str], requests: int | None
) -> None:
    fake.set_script([{"match": "PROBE-ERROR", "turns": [{"error": error}]}])

    run = run_cli(fake, workspace, "PROBE-ERROR: fail", env=env)

    assert run.returncode == 1, run.lines
    result = run.result
    assert result["is_error"] is True and result["api_error_status"] == error["status"]
    assert result["result"].startswith(f"API Error: {error['status']} {error['message']}")
    assert result["terminal_reason"] == "api_error" and result["total_cost_usd"] == 0
    assert run.seconds < 30  # a retrying CLI backs off for minutes; 30 s leaves room for a loaded machine
    reqs = fake.requests()
    assert all(r["kind"] == "error" and r["status"] == error["status"] for r in reqs)
    assert len(reqs) == requests if requests else 1 <= len(reqs) <= 6


def test_max_turns_exhaustion(fake: FakeAnthropicServer, workspace: Workspace) -> None:
    turns = [write_turn("a.txt", "a"), write_turn("b.txt", "b"), {"text": "never reached"}]
    fake.set_script([{"match": "PROBE-MAX", "turns": turns}])

    run = run_cli(fake, workspace, "PROBE-MAX: write two files", max_turns=1)

    assert run.returncode == 1
    result = run.result
    assert result["subtype"] == "error_max_turns" and result["is_error"] is True
    assert result["errors"] == ["Reached maximum number of turns (1)"]
    assert [r["turn"] for r in fake.requests()] == [0]


def test_hang_holds_the_cli_until_killed(fake: FakeAnthropicServer, workspace: Workspace) -> None:
    fake.set_script([{"match": "PROBE-HANG", "turns": [{"hang": True}]}])
    proc = subprocess.Popen(
        cli_argv("PROBE-HANG: wait"),
        cwd=workspace.repo,
        env=cli_env(fake.url, workspace),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: bool(fake.requests()))
        time.sleep(3)
        assert proc.poll() is None, "the CLI gave up on a hung request"
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)
    assert [json.loads(line)["type"] for line in stdout.splitlines()] == ["system"]  # init, then nothing
    wait_for(lambda: fake.requests()[0]["disconnected"] is not None, timeout=3)
    (req,) = fake.requests()
    assert req["kind"] == "hang" and req["finished"] is None and req["status"] is None


# ----------------------------------------------------------------------------- the fake on its own


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]


def agent_request(prompt: str, history: list[dict[str, Any]] | None = None, stream: bool = False) -> dict[str, Any]:
    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}]}, *(history or [])]
    tools = [{"name": "Write", "input_schema": {"type": "object"}}]
    return {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "sys", "messages": messages,
            "tools": tools, "stream": stream}  # fmt: skip


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "script.json"
    turns = [{"text": "first", "tool_use": {"name": "Write", "input": {"file_path": "x", "content": "y"}}}]
    script.write_text(json.dumps([{"match": "STANDALONE", "turns": [*turns, {"text": "second"}]}]))
    argv = [sys.executable, "-m", "tests.support.fake_anthropic", "--port", "0", "--script", str(script)]
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fake_anthropic listening on "), line
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_standalone_process_scripting_and_control(standalone: str) -> None:
    with httpx.Client(base_url=standalone, timeout=5) as client:
        first = client.post("/v1/messages", json=agent_request("STANDALONE go")).json()
        assert [b["type"] for b in first["content"]] == ["text", "tool_use"] and first["stop_reason"] == "tool_use"
        assert first["usage"]["input_tokens"] > 0 and first["usage"]["output_tokens"] > 0

        history = [{"role": "assistant", "content": first["content"]}, {"role": "user", "content": "result"}]
        with client.stream("POST", "/v1/messages", json=agent_request("STANDALONE go", history, True)) as resp:
            events = sse_events(resp)
        assert [e["type"] for e in events] == [
            "message_start", "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop",
        ]  # fmt: skip
        assert events[2]["delta"] == {"type": "text_delta", "text": "second"}
        assert events[4]["delta"]["stop_reason"] == "end_turn" and events[4]["usage"]["output_tokens"] > 0

        side = {**agent_request("STANDALONE go"), "tools": []}  # e.g. a tool-use summary: no tools
        assert client.post("/v1/messages", json=side).json()["content"][0]["text"] == "OK"
        fork = agent_request("STANDALONE go", [*history, {"role": "user", "content": "[SUGGESTION MODE: ..."}])
        assert client.post("/v1/messages", json=fork).status_code == 200
        assert client.get("/v1/nowhere").status_code == 404

        reqs = client.get("/_requests").json()
        assert [(r["rule"], r["turn"], r["auxiliary"], r["kind"]) for r in reqs] == [
            (0, 0, False, "tool_use"), (0, 1, False, "text"), (None, None, True, "aux"),
            (None, None, True, "aux"), (None, None, True, "unknown"),
        ]  # fmt: skip
        assert all(r["finished"] >= r["received"] for r in reqs)

        error = {"status": 529, "type": "overloaded_error", "message": "busy", "should_retry": False}
        assert client.post("/_script", json=[{"match": "STANDALONE", "turns": [{"error": error}]}]).status_code == 200
        assert client.post("/_script", json=[{"match": "x", "turns": [{"nope": 1}]}]).status_code == 400
        client.delete("/_requests")
        failed = client.post("/v1/messages", json=agent_request("STANDALONE go"))
        assert failed.status_code == 529 and failed.headers["x-should-retry"] == "false"
        assert failed.json() == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        assert [r["kind"] for r in client.get("/_requests").json()] == ["error"]
