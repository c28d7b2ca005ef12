"""Shared fixtures: Settings built directly (never from the environment) and an app on fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import AliasChoices
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app

SECRET = "s3cret-for-tests"
API_TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "storage_type": "memory", "data_dir": tmp_path / "data", "sqlite_path": tmp_path / "data/wo.db",
        "webhook_secrets": (SECRET,), "worker_concurrency": 0, "agent_env": {}, "poll_seconds": 0.05,
        "github_token": "ghp_testtokenvalue0123456789abcdefABCDEF", "api_token": API_TOKEN,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable the bot reads leaks in from the shell (`make` exports CLAUDE_CLI_PATH, CI may set more)."""
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for name in names:
            if isinstance(name, str) and name not in ("PATH", "HOME"):
                monkeypatch.delenv(name, raising=False)


@pytest.fixture
def github() -> FakeGitHub:
    return FakeGitHub(permissions={"Codertocat": "write"}, token=None)


@pytest.fixture
def agent() -> FakeAgent:
    return FakeAgent(files={"hello.txt": "hello\n"}, answer="Added hello.txt")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def runtime(settings: Settings, github: FakeGitHub, agent: FakeAgent) -> Runtime:
    return build_runtime(settings, github=github, agent=agent)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers=AUTH) as test_client:
        yield test_client
