"""/health says `degraded`, with reasons, when the bot cannot do real work; it stays 200 (503 is the store's)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.models import Repository
from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.payloads import example
from tests.unit.test_webhooks import post


def health(tmp_path: Path, github: FakeGitHub, add_repo: bool = False, **overrides: object) -> dict[str, object]:
    runtime = build_runtime(make_settings(tmp_path, **overrides), github=github)
    with TestClient(create_app(runtime), headers=AUTH) as client:
        if add_repo:
            client.portal.call(runtime.store.add_repository, Repository(repository_url="https://github.com/o/r"))
        response = client.get("/health")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_bot_without_credentials_or_repositories_is_degraded_and_says_why(
    tmp_path: Path, github: FakeGitHub,
) -> None:
    body = health(tmp_path, github, webhook_secrets=(), github_token=None)
    assert body["status"] == "degraded"
    reasons = " | ".join(body["reasons"])  # type: ignore[arg-type]
    for missing in ("no Anthropic credentials", "no GitHub credentials", "GITHUB_WEBHOOK_SECRET",
                    "no configured repository"):
        assert missing in reasons, reasons


def test_credentials_and_a_repository_clear_those_reasons(tmp_path: Path, github: FakeGitHub) -> None:
    body = health(tmp_path, github, add_repo=True, agent_env={"ANTHROPIC_API_KEY": "sk-ant-test"})
    reasons = " | ".join(body["reasons"])  # type: ignore[arg-type]
    for cleared in ("Anthropic", "GitHub credentials", "GITHUB_WEBHOOK_SECRET", "configured repository"):
        assert cleared not in reasons, reasons
    assert body["status"] == ("healthy" if not body["reasons"] else "degraded")


def test_a_missing_cli_is_a_reason(tmp_path: Path, github: FakeGitHub) -> None:
    body = health(tmp_path, github, add_repo=True, agent_env={"ANTHROPIC_API_KEY": "k"},
                  claude_cli_path=str(tmp_path / "no-such-claude"), agent_sandbox="none")
    assert body["status"] == "degraded" and body["reasons"] == ["claude_cli is not available"]


def test_only_what_works_is_healthy(tmp_path: Path, github: FakeGitHub) -> None:
    body = health(tmp_path, github, add_repo=True, agent_env={"ANTHROPIC_API_KEY": "k"},
                  claude_cli_path="git", agent_sandbox="none")  # any program that answers --version
    assert (body["status"], body["reasons"]) == ("healthy", [])


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, None])
def test_a_refused_delivery_is_logged_with_its_reason_and_never_its_body(
    tmp_path: Path, github: FakeGitHub, caplog: pytest.LogCaptureFixture, signature: str | None,
) -> None:
    runtime = build_runtime(make_settings(tmp_path), github=github)
    payload = example("ping")
    payload["zen"] = "a-marker-from-the-body"
    with caplog.at_level(logging.INFO), TestClient(create_app(runtime)) as client:
        headers = {} if signature is None else {"X-Hub-Signature-256": signature}
        response = post(client, payload, event="ping", delivery="probe-1", secret=None, **headers)
    assert response.status_code == 401
    [record] = [r for r in caplog.records if r.name == "bot.web.webhooks"]
    assert record.levelno == logging.WARNING
    assert "probe-1" in record.getMessage() and "X-Hub-Signature-256" in record.getMessage()
    assert getattr(record, "reason", None) and getattr(record, "status", None) == 401
    assert "a-marker-from-the-body" not in caplog.text
