"""The CLI adapter: argv, environment, stream-json folding, failure reasons, the kill at the limit."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot import process
from bot.agent import QUIET_CLI, AgentRequest, AgentResult, ClaudeCli, absorb, agent_env, cli_argv, failure_of

REQUEST = AgentRequest(prompt="p", cwd=Path("."), model="claude-sonnet-4-5", max_turns=9,
                       allowed_tools=("Read", "Write"), timeout=5)


def test_argv_is_a_list_with_every_limit() -> None:
    argv = cli_argv("claude", REQUEST)
    assert argv[:2] == ["claude", "-p"]
    for flag, value in (("--output-format", "stream-json"), ("--model", "claude-sonnet-4-5"), ("--max-turns", "9"),
                        ("--permission-mode", "acceptEdits"), ("--tools", "Read,Write"), ("--setting-sources", "user")):
        assert argv[argv.index(flag) + 1] == value
    assert "--verbose" in argv and "--strict-mcp-config" in argv
    assert not [a for a in argv if a.lower().startswith("--allowed")]  # an allow rule for Write grants every path


def test_agent_environment_holds_no_bot_credential_whatever_its_name() -> None:
    token = "ghp_botTokenValue0123456789"
    passthrough = {"ANTHROPIC_API_KEY": "k", "CLAUDE_SNEAKY": token, "ANTHROPIC_BASE_URL": f"https://x:{token}@h",
                   "GITHUB_TOKEN": token, "GH_TOKEN": token, "DATABASE_URL": "postgres://", "HOME": "/root",
                   "CLAUDE_SHORT": "abc"}
    env = agent_env("/bin", passthrough, [token, "abc"])
    assert env["PATH"] == "/bin" and env["ANTHROPIC_API_KEY"] == "k"
    assert [k for k in env if k not in QUIET_CLI] == ["PATH", "ANTHROPIC_API_KEY"]


def test_stream_json_is_folded_into_a_result() -> None:
    result = AgentResult()
    absorb(result, {"type": "system", "subtype": "init", "session_id": "s-1"})
    assert absorb(result, {"type": "assistant", "message": {"content": [
        {"type": "text", "text": "hi"}, {"type": "tool_use", "name": "Write", "input": {"file_path": "a.txt"}}]}})
    absorb(result, {"type": "result", "subtype": "success", "is_error": False, "result": "Done",
                    "total_cost_usd": 0.25, "num_turns": 3, "duration_ms": 1200})
    assert result.success and result.session_id == "s-1" and result.tool_uses == ["Write a.txt"]
    assert (result.cost_usd, result.num_turns, result.duration_ms, result.result_text) == (0.25, 3, 1200, "Done")


def test_failures_are_explained() -> None:
    ok = process.Completed(0, "", "")
    assert failure_of(AgentResult(), process.Completed(1, "", "boom\nInvalid API key"), 1, 5) == (
        "the agent ended without a result: Invalid API key")
    assert "time limit (5 s)" in str(failure_of(AgentResult(), process.Completed(-9, "", "", True), 5.2, 5))
    turns = AgentResult(got_result=True, is_error=True, subtype="error_max_turns",
                        result_text="Reached maximum number of turns (2)")
    assert failure_of(turns, ok, 1, 5) == (
        "the agent reported an error (error_max_turns): Reached maximum number of turns (2)")


HUNG_CLI = """
import json, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {child!r}])
print(json.dumps({{"type": "system", "subtype": "init", "session_id": "s"}}), flush=True)
time.sleep(60)
"""


async def test_a_hung_cli_and_its_children_are_killed_at_the_limit(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    marker = tmp_path / "child-alive"
    child = f"import time, pathlib; time.sleep(3); pathlib.Path({str(marker)!r}).touch()"
    script.write_text(HUNG_CLI.format(child=child))
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    cli.chmod(0o755)
    started = time.monotonic()
    result = await ClaudeCli(str(cli), {"PATH": "/usr/bin:/bin"}).run(
        AgentRequest("p", tmp_path, "m", 1, ("Read",), timeout=1.0))
    assert time.monotonic() - started < 3
    assert result.session_id == "s" and not result.success and "time limit" in str(result.error)
    time.sleep(3.5)
    assert not marker.exists(), "the CLI's child outlived the kill"


LINGERING_CLI = """
import json, time
print(json.dumps({"type": "system", "subtype": "init", "session_id": "s"}), flush=True)
print(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "Done", "num_turns": 1,
                  "total_cost_usd": 0.01, "session_id": "s"}), flush=True)
time.sleep(5)  # winding down (transcripts, caches): nothing the work order needs
"""


async def test_the_run_ends_at_the_result_line_not_when_the_cli_gets_round_to_exiting(tmp_path: Path) -> None:
    script = tmp_path / "linger.py"
    script.write_text(LINGERING_CLI)
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    cli.chmod(0o755)
    started = time.monotonic()
    result = await ClaudeCli(str(cli), {"PATH": "/usr/bin:/bin"}).run(
        AgentRequest("p", tmp_path, "m", 1, ("Read",), timeout=30))
    assert time.monotonic() - started < 3, "the bot waited for the CLI to exit after its result"
    assert result.success and result.result_text == "Done" and result.cost_usd == 0.01
