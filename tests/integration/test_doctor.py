"""`awo doctor` tries what it can: Anthropic credentials, GitHub's answer to the token, configured repositories."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.doctor import run_doctor
from bot.models import Repository
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.conftest import make_settings
from tests.e2e.harness import CLAUDE, free_port
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.fake_github import FakeGitHub

TOKEN = "ghp_testtokenvalue0123456789abcdefABCDEF"  # make_settings' token
REPO = "octo/hello"


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub({"tokens": [TOKEN], "repos": {REPO: {"default_branch": "main"}}}) as server:
        yield server


def doctor_settings(tmp_path: Path, github: FakeGitHub, anthropic_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "storage_type": "sqlite", "github_api_url": github.url, "claude_cli_path": str(CLAUDE),
        "agent_sandbox": "none", "agent_env": {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": anthropic_url},
    }
    return make_settings(tmp_path, **{**values, **overrides})


def configure(settings: Settings) -> None:
    async def add() -> None:
        store = SqliteStore(settings.sqlite_path)
        await store.open()
        await store.add_repository(Repository(repository_url=f"https://github.com/{REPO}"))
        await store.close()

    asyncio.run(add())


def doctor(settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = asyncio.run(run_doctor(settings))
    return code, capsys.readouterr().out


def test_every_check_passes_when_every_part_answers(
    tmp_path: Path, github: FakeGitHub, anthropic: FakeAnthropicServer, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = doctor_settings(tmp_path, github, anthropic.url)
    configure(settings)
    anthropic.clear_requests()
    code, out = doctor(settings, capsys)
    assert code == 0, out
    assert "ok   Anthropic" in out and "ANTHROPIC_API_KEY accepted" in out
    assert f"ok   configured repositories: {REPO}\n" in out
    assert "ok   GitHub" in out and "1 repositories readable" in out
    assert [r["path"] for r in anthropic.requests()] == ["/v1/messages/count_tokens"]  # a round trip, free


def test_no_repository_and_no_anthropic_credentials_fail_the_doctor(
    tmp_path: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = doctor(doctor_settings(tmp_path, github, "", agent_env={}), capsys)
    assert code == 1
    assert "MISS Anthropic credentials: none" in out
    assert "MISS configured repositories: none" in out


def test_a_token_github_refuses_fails_the_doctor(
    tmp_path: Path, github: FakeGitHub, anthropic: FakeAnthropicServer, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = doctor_settings(tmp_path, github, anthropic.url, github_token="ghp_revoked0000000000000000000000000000")
    configure(settings)
    code, out = doctor(settings, capsys)
    assert code == 1 and "token was refused (401" in out, out


def test_unreachable_servers_fail_the_doctor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path, storage_type="sqlite", github_api_url=closed, agent_sandbox="none",
                             agent_env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": closed})
    code, out = doctor(settings, capsys)
    assert code == 1
    assert f"MISS Anthropic ({closed}): unreachable" in out and f"MISS GitHub ({closed}): unreachable" in out
