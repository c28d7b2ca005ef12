"""The only code that spawns the Claude CLI: argv, environment, stream-json parsing, limits."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot import process
from bot.sandbox import Jail, NoSandbox, Sandbox, resolve_program
from bot.spend import Budget, RunningCost, over_cap, stopped_at

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
    budget: Budget | None = None  # the work order's per-run cap: the CLI is stopped once it is passed


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


# The bot's own credentials: never in the agent's environment, whatever a passthrough variable is called.
NEVER_PASSED = frozenset({
    "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_WEBHOOK_SECRET", "GITHUB_APP_PRIVATE_KEY", "DATABASE_URL",
    "SUPABASE_SERVICE_KEY", "AWO_API_TOKEN",
})
# A variable holding one of the bot's secrets is dropped if it contains one this long, or equals a shorter one.
MIN_SECRET_MATCH = 8
CLAUDE_MD_LIMIT = 64 * 1024


def agent_env(path: str, passthrough: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """PATH, the quiet-CLI flags and the ANTHROPIC_*/CLAUDE_* variables, minus anything carrying a bot secret.

    HOME, CLAUDE_CONFIG_DIR and TMPDIR are added per run (private, deleted afterwards)."""
    env = {"PATH": path, **QUIET_CLI}
    for key, value in passthrough.items():
        if key in NEVER_PASSED or carries_secret(value, secrets):
            log.warning("%s is not passed to the agent: it holds one of the bot's own credentials", key)
        elif key not in env and key != "HOME":
            env[key] = value
    return env


def carries_secret(value: str, secrets: Iterable[str]) -> bool:
    return any(s and (s == value or (len(s) >= MIN_SECRET_MATCH and s in value)) for s in secrets)


def cli_argv(cli_path: str, request: AgentRequest, instructions: Path | None = None) -> list[str]:
    # No --allowedTools: an allow rule for Edit/Write grants every path; without one acceptEdits confines
    # edits to the working directory. --tools is what removes the rest (Bash, WebFetch...).
    argv = [
        cli_path, "-p",
        "--output-format", "stream-json", "--verbose",
        "--model", request.model,
        "--max-turns", str(request.max_turns),
        "--permission-mode", "acceptEdits",
        "--tools", ",".join(request.allowed_tools),
        # The checkout's .claude/settings.json (hooks, apiKeyHelper, permissions, env) and .mcp.json are code
        # from the repository: only the private, empty user settings are read, and no MCP server is started.
        "--setting-sources", "user",
        "--strict-mcp-config",
    ]
    if instructions is not None:
        argv += ["--append-system-prompt-file", str(instructions)]
    if request.budget is not None:
        argv += ["--max-budget-usd", f"{request.budget.remaining:.4f}"]
    return argv


def copy_instructions(worktree: Path, scratch: Path) -> Path | None:
    """The checkout's CLAUDE.md still guides the agent (project settings no longer load it): a regular file,
    not a symlink that could point out of the worktree, size-capped, copied into the run's scratch."""
    source = worktree / "CLAUDE.md"
    if not source.is_file() or source.is_symlink() or source.stat().st_size > CLAUDE_MD_LIMIT:
        return None
    target = scratch / "project-instructions.md"
    text = source.read_text(errors="replace")
    target.write_text(f"The repository's CLAUDE.md (project instructions):\n\n{text}")
    return target


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
    """AgentRunner over the real `claude` binary, inside the sandbox, with a private HOME per run."""

    def __init__(self, cli_path: str, env: Mapping[str, str], sandbox: Sandbox | None = None,
                 scratch_root: Path | None = None) -> None:
        self.cli_path = cli_path
        self.env = dict(env)
        self.sandbox: Sandbox = sandbox or NoSandbox()
        self.scratch_root = scratch_root

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        refused = await self.sandbox.check()
        program = resolve_program(self.cli_path, self.env.get("PATH", ""))
        if refused is not None or program is None:
            return AgentResult(error=refused or f"the Claude CLI was not found at {self.cli_path!r}")
        result = AgentResult()
        running = RunningCost(request.model)

        async def on_line(line: str) -> bool:
            """True once the result line is in, or the cap is passed: the CLI is stopped without waiting for its
            exit (at the cap, its group is killed before it makes another request)."""
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                log.debug("non-JSON line from the CLI: %.200s", line)
                return False
            if not isinstance(event, dict):
                return False
            running.absorb(event)
            if event.get("type") == "assistant" and over_cap(request.budget, running.total):
                return True
            if not result.got_result:
                result.cost_usd = round(running.total, 6)  # so far, for progress; the result line's figure wins
            if absorb(result, event) and on_progress is not None:
                await on_progress(result)
            return result.got_result

        started = time.monotonic()
        # A short private temp dir (the CLI keeps a unix socket there; path length is limited): the run's
        # HOME, config and transcripts, gone when it ends, so no later work order can read them.
        with tempfile.TemporaryDirectory(prefix="awo-", dir=self.scratch_root) as scratch:
            jail = Jail(request.cwd.resolve(), Path(scratch), program)
            argv = self.sandbox.wrap(cli_argv(self.cli_path, request, copy_instructions(jail.worktree, jail.scratch)),
                                     jail)
            done = await process.stream(argv, on_line=on_line, cwd=jail.worktree, env=self._env(jail.scratch),
                                        timeout=request.timeout, stdin=request.prompt)
        if not result.got_result:
            result.cost_usd = round(running.total, 6)  # the CLI's own figure, when its result came, is kept
        result.error = (over_budget(request.budget, result, running.total)
                        or failure_of(result, done, time.monotonic() - started, request.timeout))
        return result

    def _env(self, scratch: Path) -> dict[str, str]:
        home, tmp = scratch / "home", scratch / "tmp"
        home.mkdir()
        tmp.mkdir()
        private = {"HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"), "TMPDIR": str(tmp),
                   "CLAUDE_CODE_TMPDIR": str(tmp)}
        return {**self.env, **private}


def over_budget(budget: Budget | None, result: AgentResult, running: float) -> str | None:
    """The cap's failure, with the figures: the bot stopped the CLI, or the CLI stopped at its own budget."""
    if budget is None:
        return None
    if not result.got_result and over_cap(budget, running):
        return stopped_at(budget, running)
    if result.got_result and result.subtype == "error_max_budget_usd":
        return stopped_at(budget, max(result.cost_usd, running))
    return None


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
