"""Settings: defaults from the contract; a set-but-wrong variable stops start-up naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.remotes import RemotePolicy
from bot.settings import agent_passthrough, load_settings

PROJECT = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert (settings.host, settings.port, settings.storage_type) == ("0.0.0.0", 8053, "sqlite")
    assert settings.remote_policy == RemotePolicy("https://github.com", ("https",))
    assert (settings.trigger_phrase, settings.trigger_label, settings.worker_concurrency) == ("@claude", "claude", 2)
    assert settings.github_api_url == "https://api.github.com"
    assert len(settings.missing_for_github()) == 2


def test_relative_paths_and_the_cli_are_the_projects_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`awo repos add` run from another folder opens the server's database; `awo doctor` finds `make`'s CLI."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.sqlite_path == PROJECT / "data/work-orders.db" and settings.data_dir == PROJECT / "data"
    assert settings.claude_cli_path == str(PROJECT / "node_modules/.bin/claude")
    monkeypatch.setenv("SQLITE_PATH", "state/wo.db")
    monkeypatch.setenv("AWO_DATA_DIR", "~/awo-data")
    monkeypatch.setenv("CLAUDE_CLI_PATH", "./node_modules/.bin/claude")
    settings = load_settings()
    assert settings.sqlite_path == PROJECT / "state/wo.db" and settings.data_dir == Path.home() / "awo-data"
    assert settings.claude_cli_path == str(PROJECT / "node_modules/.bin/claude")
    monkeypatch.setenv("CLAUDE_CLI_PATH", "claude")  # a bare name is looked up on PATH
    assert load_settings().claude_cli_path == "claude"


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"STATE_STORAGE_TYPE": "mongo"}, "STATE_STORAGE_TYPE", "sqlite"),
        ({"STATE_STORAGE_TYPE": "postgres"}, "configuration", "DATABASE_URL"),
        ({"STATE_STORAGE_TYPE": "supabase", "SUPABASE_URL": "https://x.supabase.co"}, "configuration",
         "SUPABASE_SERVICE_KEY"),
        ({"GITHUB_API_URL": "ftp://example.com"}, "GITHUB_API_URL", "http"),
        ({"AGENT_WORK_ORDERS_PORT": "eighty"}, "AGENT_WORK_ORDERS_PORT", "integer"),
        ({"WORKER_CONCURRENCY": "-1"}, "WORKER_CONCURRENCY", "greater than or equal"),
        ({"GITHUB_APP_ID": "123"}, "configuration", "GITHUB_APP_PRIVATE_KEY"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "INFO"),
    ],
)
def test_a_wrong_variable_is_named(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str,
                                   words: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{variable}: ") and words in str(caught.value)


def test_secrets_rotate_tokens_alias_and_file_means_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "old, new")
    monkeypatch.setenv("GH_TOKEN", "ghp_x")
    monkeypatch.setenv("STATE_STORAGE_TYPE", "FILE")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.webhook_secrets] == ["old", "new"]
    assert settings.github_token is not None and settings.github_token.get_secret_value() == "ghp_x"
    assert settings.effective_storage == "sqlite" and settings.missing_for_github() == []
    assert "ghp_x" not in repr(settings)


def test_only_anthropic_and_claude_variables_reach_the_agent() -> None:
    environ = {"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_OAUTH_TOKEN": "o", "GITHUB_TOKEN": "g", "AWS_SECRET": "a",
               "CLAUDE_CLI_PATH": "/x/claude", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
    assert agent_passthrough(environ) == {"ANTHROPIC_API_KEY": "k", "CLAUDE_CODE_OAUTH_TOKEN": "o",
                                          "ANTHROPIC_BASE_URL": "http://127.0.0.1:1"}
