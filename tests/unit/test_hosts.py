"""GitHub Enterprise Server URL rules: which host slugs and links are on, and host-aware repository matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.hosts import host_of, repository_web_origin, same_host
from bot.repositories import normalise_url
from tests.conftest import make_settings


@pytest.mark.parametrize(("api_url", "override", "origin"), [
    ("https://api.github.com", None, "https://github.com"),
    ("https://ghe.example.com/api/v3", None, "https://ghe.example.com"),
    ("https://ghe.example.com/api/v3/", None, "https://ghe.example.com"),
    ("http://127.0.0.1:8123", None, "https://github.com"),  # a proxy or fake in front of github.com
    ("https://ghe.example.com/api/v3", "https://git.example.com/", "https://git.example.com"),
])
def test_slugs_live_on_the_web_host_of_the_api_url(api_url: str, override: str | None, origin: str) -> None:
    assert repository_web_origin(api_url, override) == origin


def test_settings_turn_a_ghes_api_url_into_its_web_origin_policy_and_slugs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, github_api_url="https://ghe.example.com/api/v3")
    assert settings.github_web_origin == "https://ghe.example.com"
    assert settings.remote_policy.origin == "https://ghe.example.com"
    assert normalise_url("o/r", settings.github_web_origin) == "https://ghe.example.com/o/r"
    assert normalise_url("https://ghe.example.com/o/r.git/") == "https://ghe.example.com/o/r"
    assert normalise_url("o/r") == "https://github.com/o/r"


@pytest.mark.parametrize(("url", "host"), [
    ("https://GHE.example.com:8443/o/r", "ghe.example.com:8443"),
    ("https://x-access-token:secret@ghe.example.com/o/r", "ghe.example.com"),
    ("o/r", ""),
    ("/srv/git/r.git", ""),
])
def test_the_host_of_a_url_never_keeps_its_credentials(url: str, host: str) -> None:
    assert host_of(url) == host


def test_hosts_match_only_when_both_name_one_or_one_names_none() -> None:
    assert same_host("https://github.com/o/r", "https://GITHUB.com/o/r")
    assert not same_host("https://github.com/o/r", "https://ghe.example.com/o/r")
    assert not same_host("https://ghe.example.com/o/r", "https://ghe.example.com.evil.net/o/r")
    assert same_host("https://github.com/o/r", "")


def test_awo_repos_keeps_a_ghes_and_a_github_com_repository_of_one_name_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {"STATE_STORAGE_TYPE": "sqlite", "SQLITE_PATH": str(tmp_path / "wo.db"),
                        "AWO_DATA_DIR": str(tmp_path / "data"), "GITHUB_API_URL": "https://ghe.example.com/api/v3"
                        }.items():
        monkeypatch.setenv(name, value)
    assert main(["repos", "add", "Codertocat/Hello-World", "--no-verify"]) == 0
    assert main(["repos", "add", "https://github.com/Codertocat/Hello-World", "--no-verify"]) == 0
    assert main(["repos", "remove", "https://github.com/Codertocat/Hello-World"]) == 0
    capsys.readouterr()
    assert main(["repos", "list"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.endswith("https://ghe.example.com/Codertocat/Hello-World.git")
