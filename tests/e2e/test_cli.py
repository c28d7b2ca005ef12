"""The `awo` command as a user runs it: run, repos, doctor, migrate, and serve with nothing configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import CLAUDE, ROOT, copy_project, free_port, wait_until
from tests.gitrepo import GIT_ENV, branches, git, show
from tests.support.fake_anthropic import FakeAnthropicServer

pytestmark = pytest.mark.e2e


def awo(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot.cli", *args]
    full_env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def model() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


def local_repo(root: Path) -> Path:
    repo = root / "project"
    repo.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    (repo / "README.md").write_text("# Project\n")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "init", cwd=repo)
    return repo


def test_awo_run_branches_and_commits_in_a_local_repository(tmp_path: Path, model: FakeAnthropicServer) -> None:
    repo = local_repo(tmp_path)
    model.set_script([
        {"match": "step: plan", "turns": [{"text": "Plan: add NOTES.md"}]},
        {"match": "step: implement", "turns": [
            {"tool_use": {"name": "Write", "input": {"file_path": "NOTES.md", "content": "notes\n"}}},
            {"text": "Added NOTES.md"}]},
    ])
    env = {"CLAUDE_CLI_PATH": str(CLAUDE), "ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "sk-test",
           "SQLITE_PATH": str(tmp_path / "db.sqlite"), "AWO_DATA_DIR": str(tmp_path / "data")}
    done = awo("run", "--repo", str(repo), "--prompt", "Add a NOTES.md file", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("checkout", "plan", "implement", "commit", "push"):
        assert f"[x] {step}" in done.stdout
    [branch] = [b for b in branches(repo / ".git") if b.startswith("claude/")]
    assert branch in done.stdout and show(repo / ".git", branch, "NOTES.md") == "notes"
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo) == "main"  # the user's checkout is untouched
    assert not (repo / "NOTES.md").exists()
    assert "Agent Work Orders" in git("log", "-1", "--format=%an", branch, cwd=repo)


def test_awo_run_reports_a_failing_agent(tmp_path: Path, model: FakeAnthropicServer) -> None:
    repo = local_repo(tmp_path)
    model.set_script([{"match": "step: plan", "turns": [
        {"error": {"status": 400, "type": "invalid_request_error", "message": "no credit left"}}]}])
    env = {"CLAUDE_CLI_PATH": str(CLAUDE), "ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": "sk-test",
           "SQLITE_PATH": str(tmp_path / "db.sqlite"), "AWO_DATA_DIR": str(tmp_path / "data")}
    done = awo("run", "--repo", str(repo), "--prompt", "x", cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "Failed" in done.stdout and "no credit left" in done.stdout
    assert branches(repo / ".git") == ["main"]


def test_repos_add_list_remove(tmp_path: Path) -> None:
    env = {"SQLITE_PATH": str(tmp_path / "db.sqlite")}
    added = awo("repos", "add", "octo/hello", "--no-verify", cwd=tmp_path, env=env)
    assert added.returncode == 0 and "added octo/hello" in added.stdout
    assert "octo/hello" in awo("repos", "list", cwd=tmp_path, env=env).stdout
    bad = awo("repos", "add", "not a repo", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "owner/repo" in bad.stdout
    unverifiable = awo("repos", "add", "octo/other", cwd=tmp_path, env=env)
    assert unverifiable.returncode == 1 and "GITHUB_TOKEN" in unverifiable.stderr
    assert awo("repos", "remove", "octo/hello", cwd=tmp_path, env=env).returncode == 0
    assert "no repositories configured" in awo("repos", "list", cwd=tmp_path, env=env).stdout


def test_doctor_says_what_is_missing(tmp_path: Path) -> None:
    done = awo("doctor", cwd=tmp_path, env={"SQLITE_PATH": str(tmp_path / "db.sqlite"),
                                            "CLAUDE_CLI_PATH": str(tmp_path / "nope")})
    assert done.returncode == 1
    assert "MISS Claude CLI" in done.stdout and "ok   git" in done.stdout and "ok   store (sqlite)" in done.stdout
    assert "MISS GITHUB_WEBHOOK_SECRET" in done.stdout and "MISS GitHub credentials" in done.stdout


def test_a_bad_variable_stops_start_up_with_one_line(tmp_path: Path) -> None:
    done = awo("serve", cwd=tmp_path, env={"STATE_STORAGE_TYPE": "oracle"})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "STATE_STORAGE_TYPE" in done.stderr


def test_migrate_without_postgres_explains_itself(tmp_path: Path) -> None:
    done = awo("migrate", cwd=tmp_path, env={})
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr


@pytest.mark.postgres
def test_migrate_with_only_database_url_as_the_readme_says(tmp_path: Path) -> None:
    """README: `DATABASE_URL=postgresql://… awo migrate`, no STATE_STORAGE_TYPE."""
    from tests.integration.conftest import fresh_database

    with fresh_database() as url:
        done = awo("migrate", cwd=tmp_path, env={"DATABASE_URL": url})
        assert done.returncode == 0, done.stderr
        assert "applied agent_work_orders_state.sql" in done.stdout
        again = awo("migrate", cwd=tmp_path, env={"DATABASE_URL": url})
        assert again.returncode == 0 and "up to date" in again.stdout


def test_serve_with_nothing_configured_starts_and_says_what_is_missing(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "clone")  # a fresh clone: its data folder is where the state goes
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AGENT_WORK_ORDERS_PORT": str(port),
           **{k: v for k, v in GIT_ENV.items() if k.startswith("GIT_")}}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=project, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = wait_until(lambda: _get(f"http://127.0.0.1:{port}/health"), timeout=30)
        assert health["storage_type"] == "sqlite" and health["database"]["tables_exist"] is True
        assert (project / "data/work-orders.db").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    log_text = log_path.read_text()
    assert "GITHUB_WEBHOOK_SECRET is not set" in log_text and "GITHUB_TOKEN (or GITHUB_APP_ID) is not set" in log_text


def _get(url: str) -> dict | None:
    try:
        return httpx.get(url, timeout=1).json()  # type: ignore[no-any-return]
    except httpx.TransportError:
        return None
