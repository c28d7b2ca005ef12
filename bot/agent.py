"""The only code that spawns the Claude CLI: argv, environment, stream-json parsing, limits."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot import process

log = logging.getLogger(__name__)

# Keep the CLI from calling home: no telemetry, no auto-update, no error reporting.
QUIET_CLI = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


@dataclass(frozen=True)
class AgentRequest:
    prompt: str
    cwd: Path
    model: str
    max_turns: int
    allowed_tools: tuple[str, ...]
    timeout: float


@dataclass
class AgentResult:
    """What one CLI run produced; `success` only with a result line that is not an error."""

    session_id: str | None = None
    result_text: str = ""
    is_error: bool = True
    subtype: str | None = None
    cost_usd: float = 0.0
    num_turns: int = 0
    duration_ms: int = 0
    tool_uses: list[str] = field(default_factory=list)
    got_result: bool = False
    error: str | None = None

    @property
    def success(self) -> bool:
        return self.got_result and not self.is_error and self.error is None


ProgressHook = Callable[[AgentResult], Awaitable[None]]


class AgentRunner(Protocol):
    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult: ...


def agent_env(base: Mapping[str, str], passthrough: Mapping[str, str]) -> dict[str, str]:
    """PATH, HOME and the ANTHROPIC_*/CLAUDE_* variables; nothing else (no GitHub token)."""
    env = {key: base[key] for key in ("PATH", "HOME") if key in base}
    return {**env, **QUIET_CLI, **passthrough}


def cli_argv(cli_path: str, request: AgentRequest) -> list[str]:
    return [
        cli_path, "-p",
        "--output-format", "stream-json", "--verbose",
        "--model", request.model,
        "--max-turns", str(request.max_turns),
        "--permission-mode", "acceptEdits",
        # --allowedTools alone restricts nothing under acceptEdits; --tools is what removes the rest (Bash...)
        "--tools", ",".join(request.allowed_tools),
        "--allowedTools", ",".join(request.allowed_tools),
    ]


def describe_tool_use(block: dict[str, Any]) -> str:
    """One log line for a tool call: `Write hello.txt`, `Bash ls -la`."""
    args = block.get("input") or {}
    target = args.get("file_path") or args.get("path") or args.get("pattern") or args.get("command") or ""
    return f"{block.get('name', 'tool')} {str(target)[:200]}".strip()


def absorb(result: AgentResult, event: dict[str, Any]) -> bool:
    """Fold one stream-json event into the result; True if it is worth a progress report."""
    kind = event.get("type")
    if kind == "system" and event.get("subtype") == "init":
        result.session_id = event.get("session_id")
        return False
    if kind == "assistant":
        blocks = (event.get("message") or {}).get("content") or []
        uses = [describe_tool_use(b) for b in blocks if b.get("type") == "tool_use"]
        result.tool_uses.extend(uses)
        return bool(uses)
    if kind == "result":
        result.got_result = True
        result.is_error = bool(event.get("is_error"))
        result.subtype = event.get("subtype")
        result.result_text = str(event.get("result") or "; ".join(map(str, event.get("errors") or [])))
        result.cost_usd = float(event.get("total_cost_usd") or 0)
        result.num_turns = int(event.get("num_turns") or 0)
        result.duration_ms = int(event.get("duration_ms") or 0)
        result.session_id = event.get("session_id") or result.session_id
        return True
    return False


class ClaudeCli:
    """AgentRunner over the real `claude` binary."""

    def __init__(self, cli_path: str, env: Mapping[str, str]) -> None:
        self.cli_path = cli_path
        self.env = dict(env)

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        result = AgentResult()

        async def on_line(line: str) -> None:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.debug("non-JSON line from the CLI: %.200s", line)
                return
            if isinstance(event, dict) and absorb(result, event) and on_progress is not None:
                await on_progress(result)

        started = time.monotonic()
        # A short private temp dir: the CLI keeps a unix socket there (path length is limited).
        with tempfile.TemporaryDirectory(prefix="awo-") as scratch:
            done = await process.stream(
                cli_argv(self.cli_path, request), on_line=on_line, cwd=request.cwd,
                env={**self.env, "CLAUDE_CODE_TMPDIR": scratch}, timeout=request.timeout, stdin=request.prompt,
            )
        result.error = failure_of(result, done, time.monotonic() - started, request.timeout)
        return result


def failure_of(result: AgentResult, done: process.Completed, elapsed: float, limit: float) -> str | None:
    """Why the run failed, in one line, or None if it succeeded."""
    if done.timed_out:
        return f"the agent was stopped at the time limit ({limit:g} s) after {elapsed:.0f} s"
    if not result.got_result:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return f"the agent ended without a result: {tail[0][:300]}"
    if result.is_error:
        kind = f" ({result.subtype})" if result.subtype and result.subtype != "success" else ""
        return f"the agent reported an error{kind}: {result.result_text[:300] or 'no details'}"
    return None
