"""The sandbox's wiring: no bot credential in the agent's environment, and no unsandboxed run when bubblewrap
is missing or broken (the run fails with the reason; start-up, `awo doctor` and /health say so)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.agent import AgentRequest
from bot.doctor import run_doctor
from bot.errors import ConfigError
from bot.local import run_local
from bot.runtime import build_runtime, build_services
from bot.sandbox import package_root
from bot.settings import load_settings
from bot.store.factory import build_store
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.gitrepo import make_remote
from tests.support.fake_github_app import new_key_pair

TOKEN = "ghp_unitTokenThatMustNotReachTheAgent0123"
APP_KEY = new_key_pair()[0]  # a malformed key is refused at start-up


def credentials() -> dict[str, object]:
    return {"github_token": TOKEN, "webhook_secrets": ("hook-secret-value",), "api_token": "api-token-value",
            "database_url": "postgresql://u:dbpassword@h/db", "supabase_service_key": "supabase-service-key",
            "github_app_private_key": APP_KEY, "github_app_id": "1"}


def test_the_agent_environment_holds_none_of_the_bot_credentials(tmp_path: Path) -> None:
    sneaky = {"ANTHROPIC_API_KEY": "sk-ant", "CLAUDE_GITHUB": TOKEN, "CLAUDE_HOOK": "hook-secret-value",
              "ANTHROPIC_CUSTOM_HEADERS": "x-db: postgresql://u:dbpassword@h/db"}
    settings = make_settings(tmp_path, agent_env=sneaky, **credentials())
    agent = build_services(settings, build_store(settings), None).agent
    env = agent.env  # type: ignore[attr-defined]
    values = [v.get_secret_value() for v in (settings.github_token, settings.api_token, settings.database_url,
                                             settings.supabase_service_key, *settings.webhook_secrets) if v]
    assert [k for k, v in env.items() if any(s in v for s in values)] == []
    assert env["ANTHROPIC_API_KEY"] == "sk-ant" and "HOME" not in env  # HOME is private, set per run


def failing_bwrap(folder: Path) -> Path:
    folder.mkdir()
    bwrap = folder / "bwrap"
    bwrap.write_text("#!/bin/sh\necho 'bwrap: No permissions to create a new namespace' >&2\nexit 1\n")
    bwrap.chmod(0o755)
    return folder


def cli_that_leaves_a_mark(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "cli-ran"
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\ntouch {marker}\n")
    cli.chmod(0o755)
    return cli, marker


@pytest.mark.parametrize("bwrap", ["missing", "broken"])
async def test_without_a_working_bubblewrap_the_agent_never_runs_unsandboxed(tmp_path: Path, bwrap: str) -> None:
    folder = failing_bwrap(tmp_path / "bin") if bwrap == "broken" else tmp_path
    cli, marker = cli_that_leaves_a_mark(tmp_path)
    settings = make_settings(tmp_path, claude_cli_path=str(cli), path_env=str(folder))
    agent = build_services(settings, build_store(settings), None).agent
    result = await agent.run(AgentRequest("p", tmp_path, "m", 1, ("Read",), 5))
    assert not result.success and "AWO_AGENT_SANDBOX=bwrap" in str(result.error)
    assert ("not installed" if bwrap == "missing" else "No permissions to create") in str(result.error)
    assert not marker.exists()


def test_a_broken_sandbox_is_said_at_start_up_and_in_health(
    tmp_path: Path, github: FakeGitHub, agent: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, path_env=str(failing_bwrap(tmp_path / "bin")))
    with caplog.at_level(logging.WARNING), TestClient(create_app(build_runtime(settings, github=github))) as client:
        body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["agent_sandbox"]["kind"] == "bwrap" and body["agent_sandbox"]["available"] is False
    lines = [r.getMessage() for r in caplog.records if "AWO_AGENT_SANDBOX" in r.getMessage()]
    assert len(lines) == 1 and "work orders fail" in lines[0]


def test_opting_out_is_warned_at_start_up(tmp_path: Path, github: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, agent_sandbox="none")
    with caplog.at_level(logging.WARNING), TestClient(create_app(build_runtime(settings, github=github))) as client:
        body = client.get("/health").json()
    assert body["agent_sandbox"]["available"] is True and body["agent_sandbox"]["kind"] == "none"
    assert [r for r in caplog.records if r.levelno == logging.WARNING and "unsandboxed" in r.getMessage()]


@pytest.mark.parametrize(("path_env", "expected"), [("ok", "ok   agent sandbox (bwrap)"), ("", "MISS agent sandbox")])
async def test_doctor_reports_the_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path_env: str, expected: str
) -> None:
    path = "/usr/local/bin:/usr/bin:/bin" if path_env else str(tmp_path)
    await run_doctor(make_settings(tmp_path, path_env=path))
    assert expected in capsys.readouterr().out


def test_only_the_cli_package_is_mounted_never_its_neighbours() -> None:
    native = Path("/srv/bot/node_modules/@anthropic-ai/claude-code/bin/claude.exe")
    assert package_root(native) == Path("/srv/bot/node_modules/@anthropic-ai/claude-code")
    assert package_root(Path("/srv/bot/node_modules/claude/cli.js")) == Path("/srv/bot/node_modules/claude")
    assert package_root(Path("/srv/bot/claude")) is None  # the binary alone, not the bot's folder


async def test_a_work_order_fails_with_the_reason_instead_of_running_unsandboxed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli, marker = cli_that_leaves_a_mark(tmp_path)
    path = f"{failing_bwrap(tmp_path / 'bin')}:/usr/local/bin:/usr/bin:/bin"
    settings = make_settings(tmp_path, storage_type="sqlite", claude_cli_path=str(cli), path_env=path)
    code = await run_local(settings, str(make_remote(tmp_path / "remotes")), "Add a file", None, None)
    out = capsys.readouterr().out
    assert code == 1 and "bubblewrap cannot create a sandbox" in out, out
    assert not marker.exists()


def test_an_unknown_sandbox_kind_stops_start_up_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWO_AGENT_SANDBOX", "docker")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert error.value.variable == "AWO_AGENT_SANDBOX"


async def test_a_hung_cli_and_its_children_die_at_the_limit_inside_the_sandbox(tmp_path: Path) -> None:
    """bwrap starts the CLI in a new session, out of the process group the bot kills: the pid namespace
    and --die-with-parent must take every process with it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    cli = tmp_path / "claude"
    cli.write_text("#!/bin/sh\n(sleep 3; touch child-alive) &\n"
                   'echo \'{"type": "system", "subtype": "init", "session_id": "s"}\'\nsleep 15\n')
    cli.chmod(0o755)
    settings = make_settings(tmp_path, claude_cli_path=str(cli), path_env="/usr/local/bin:/usr/bin:/bin")
    agent = build_services(settings, build_store(settings), None).agent
    started = time.monotonic()
    result = await agent.run(AgentRequest("p", tree, "m", 1, ("Read",), timeout=1.0))
    assert time.monotonic() - started < 3 and result.session_id == "s" and "time limit" in str(result.error)
    await asyncio.sleep(3.5)
    assert not (tree / "child-alive").exists(), "a process in the sandbox outlived the kill"
