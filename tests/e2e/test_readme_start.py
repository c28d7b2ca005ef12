"""The README's own start, kept in `make test` for good: a fresh copy of the project, `awo serve` in it with
only the variables a user sets (no AWO_DATA_DIR, SQLITE_PATH or CLAUDE_CLI_PATH), `awo repos add` from
another folder, a labelled issue → a PR; and `awo run` the same way.

Every other test names an absolute data folder, so only these run the product as a new user does."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CLAUDE, REPO, Stack, copy_project, script_for, wait_until
from tests.gitrepo import branches, git, show

pytestmark = pytest.mark.e2e

WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from claude\n"}}}


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone per test (cheap: 1 MB), so each starts from nothing, alone or repeated."""
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    return copy_project(tmp_path_factory.mktemp("clone"))


@pytest.fixture
def stack(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("readme"), project=project)
    yield running
    running.stop()


def awo(stack: Stack, project: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`awo ...` from the project's code (the copy stands in for its own .venv/bin/awo), run in `cwd`."""
    env = {**stack.user_environment(), "PYTHONPATH": str(project)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def mirrors(project: Path) -> list[Path]:
    return sorted((project / "data" / "mirrors").glob("*.git"))


def test_a_labelled_issue_becomes_a_pr_on_the_readmes_defaults(stack: Stack, project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    added = awo(stack, project, "repos", "add", REPO, cwd=elsewhere)
    assert added.returncode == 0, added.stdout + added.stderr
    assert not (elsewhere / "data").exists()  # the server's database, not one in the current folder
    assert [r["display_name"] for r in stack.http.get("/api/agent-work-orders/repositories").json()] == [REPO]
    doctor = awo(stack, project, "doctor", cwd=elsewhere)  # README step 6, right after `make run`
    assert "ok   Claude CLI" in doctor.stdout, doctor.stdout

    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: add hello.txt"}], [WRITE, {"text": "Added hello.txt."}]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Say hello")).status_code == 202
    order = stack.finished(issue)
    assert order["status"] == "completed", (order, stack.log()[-3000:])
    assert show(stack.remote, order["git_branch_name"], "hello.txt") == "hello from claude"
    [pull] = stack.gh.pulls(REPO)
    body = wait_until(lambda: "✅ Done" in stack.comment_on(issue) and stack.comment_on(issue))
    assert pull["html_url"] in body

    # where the README says the state lives: the project's data folder, the mirror not nested in it
    assert (project / "data" / "work-orders.db").is_file()
    assert [m.parent for m in mirrors(project)] == [project / "data" / "mirrors"]
    assert (mirrors(project)[0] / "HEAD").is_file() and not (project / "data" / "mirrors" / "data").exists()
    health = stack.http.get("/health").json()
    assert health["dependencies"]["claude_cli"]["available"] is True


def test_awo_run_on_the_readmes_defaults(stack: Stack, project: Path, tmp_path: Path) -> None:
    repo = tmp_path / "my-project"
    repo.mkdir()
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    (repo / "README.md").write_text("# Mine\n")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "init", cwd=repo)
    stack.script([{"match": "my-project#- — step: plan", "turns": [{"text": "Plan: add NOTES.md"}]},
                  {"match": "my-project#- — step: implement", "turns": [
                      {"tool_use": {"name": "Write", "input": {"file_path": "NOTES.md", "content": "notes\n"}}},
                      {"text": "Added NOTES.md"}]}])

    done = awo(stack, project, "run", "--repo", str(repo), "--prompt", "Add a NOTES.md file", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    [branch] = [b for b in branches(repo / ".git") if b.startswith("claude/")]
    assert show(repo / ".git", branch, "NOTES.md") == "notes"
    assert done.stdout.count("✅ Done") == 1 and "no changes were needed" not in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert any(repo.name in m.name for m in mirrors(project))
    assert not (project / "data" / "mirrors" / "data").exists()
