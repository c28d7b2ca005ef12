"""The real `awo serve` process with the real Claude CLI, a scripted model, fake GitHub and a bare remote.

Used by the end-to-end tests and by the benchmarks.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from githubkit.webhooks import sign

from tests.gitrepo import make_remote
from tests.payloads import example
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.fake_github import FakeGitHub, FakeGitHubClient
from tests.support.openapi import DEFAULT_SPEC, description

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "node_modules/.bin/claude"
REPO = "Codertocat/Hello-World"
SECRET = "e2e-webhook-secret"
TOKEN = "ghs_e2eTokenThatMustNeverLeak0123456789"
API_KEY = "sk-ant-e2e-key-that-must-never-leak"
API_TOKEN = "e2e-api-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(probe: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not reached within {timeout} s")


# What a fresh clone does not have: installed dependencies, state, caches, build output.
NOT_IN_A_CLONE = {".git", ".venv", "node_modules", "data", "reports", "build", ".bench", "__pycache__",
                  ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis"}


def copy_project(dest: Path) -> Path:
    """A fresh copy of the project as a user's clone has it (no state, no .venv), with node_modules linked.

    Walks the folder rather than asking git: the mutation runner's scratch copies are not repositories."""
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in NOT_IN_A_CLONE and not d.endswith(".egg-info")
                   and not (here / d).is_symlink()]
        for name in files:
            source = here / name
            if not source.is_symlink() and name not in NOT_IN_A_CLONE and not name.endswith(".pyc"):
                target = dest / source.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    (dest / "node_modules").symlink_to((ROOT / "node_modules").resolve())
    return dest


def path_without_claude() -> str:
    """PATH minus any folder holding a `claude`: the bot must find the project's CLI by itself."""
    folders = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not os.access(os.path.join(f, "claude"), os.X_OK))


class Stack:
    """Everything an end-to-end test needs, started once per module.

    With `project`, the server runs as the README starts it: `awo serve` in that folder, with only the
    variables a user must set (no data folder, database path or CLI path).
    """

    def __init__(self, root: Path, project: Path | None = None, *, spec: str = "", fakes_host: str = "127.0.0.1",
                 **env: str) -> None:
        # AWO_E2E_GITHUB=ghes-3.19 runs every end-to-end test against GitHub Enterprise Server's description
        spec = spec or os.environ.get("AWO_E2E_GITHUB") or DEFAULT_SPEC
        self.root = root
        self.project = project
        self._issues = itertools.count(101)
        self.remote = make_remote(root / "remotes")
        # the fakes listen on loopback, or where containers on a bridge network reach the host (tests/image)
        self.model = FakeAnthropicServer(host=fakes_host).start()
        self.github = FakeGitHub(spec=spec, host=fakes_host).start()
        # GHES serves its API under /api/v3 of its own web host; github.com's API is a host of its own.
        self.api_url = self.github.url + description(spec).prefix
        self.web = self.github.url if description(spec).prefix else "https://github.com"
        self.gh: FakeGitHubClient = self.github.client()
        self.gh.seed({
            "tokens": [TOKEN],
            "repos": {REPO: {"default_branch": "main", "clone_url": str(self.remote)}},
            "permissions": {REPO: {"Codertocat": "write", "reader": "read", "maintainer": "maintain"}},
        })
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        self.server = self._spawn(env)
        self.http = httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {API_TOKEN}"})
        self.rules: list[dict[str, Any]] = []

    def script(self, rules: list[dict[str, Any]]) -> None:
        """Add rules to the scripted model (earlier tests' rules stay, each matches its own issue)."""
        self.rules = rules + self.rules
        self.model.set_script(self.rules)

    def new_issue(self) -> int:
        """An issue number no other test (or repetition) in this stack has used."""
        return next(self._issues)

    def user_environment(self) -> dict[str, str]:
        """What the README asks a user to set, and nothing else (plus a free port, and `file` for the remote)."""
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": path_without_claude(), "HOME": str(home), "AGENT_WORK_ORDERS_PORT": str(self.port),
            "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": self.api_url,
            "ANTHROPIC_BASE_URL": self.model.url, "ANTHROPIC_API_KEY": API_KEY, "AWO_API_TOKEN": API_TOKEN,
            "AWO_GIT_PROTOCOLS": "https,file",  # the remote is a bare repository on disk
        }

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        if self.project is not None:
            return {**self.user_environment(), **extra}
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AGENT_WORK_ORDERS_HOST": "127.0.0.1", "AGENT_WORK_ORDERS_PORT": str(self.port),
            "STATE_STORAGE_TYPE": "sqlite", "SQLITE_PATH": str(self.root / "data/work-orders.db"),
            "AWO_DATA_DIR": str(self.root / "data"), "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": self.api_url, "CLAUDE_CLI_PATH": str(CLAUDE),
            "AWO_API_TOKEN": API_TOKEN,
            "ANTHROPIC_BASE_URL": self.model.url, "ANTHROPIC_API_KEY": API_KEY,
            "AWO_STEP_TIMEOUT_SECONDS": "8", "AWO_POLL_SECONDS": "0.2", "WORKER_CONCURRENCY": "2",
            "AWO_SHUTDOWN_GRACE_SECONDS": "5",  # teardown waits 15 s for the server to stop
            "LOG_LEVEL": "INFO", "AWO_GIT_PROTOCOLS": "https,file", **extra,  # the remote is a bare repo on disk
        }

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"], cwd=self.project or ROOT, env=self.environment(extra),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self._up, timeout=30)
        return server

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code in (200, 503)
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop everything; then fail if the bot made a GitHub request its OpenAPI description does not allow."""
        self.http.close()
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
        violations = self.gh.violations()
        self.gh.close()
        self.github.stop()
        self.model.stop()
        assert violations == [], f"requests GitHub's OpenAPI description does not allow: {violations}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # acting like GitHub

    def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None) -> httpx.Response:
        # a GHES delivery names its own host wherever github.com's names github.com
        body = json.dumps(payload).replace("https://github.com/", f"{self.web}/").encode()
        headers = {
            "X-GitHub-Event": event, "X-GitHub-Delivery": delivery or f"d-{time.monotonic_ns()}",
            "X-Hub-Signature-256": sign(SECRET, body, "sha256"), "Content-Type": "application/json",
        }
        return self.http.post("/webhooks/github", content=body, headers=headers)

    def issue_payload(self, number: int, title: str, clone_url: str | None = None, **edits: Any) -> dict[str, Any]:
        return example("issues", "labeled", label__name="claude", issue__number=number, issue__title=title,
                       issue__body=f"Body of issue {number}", repository__clone_url=clone_url or str(self.remote),
                       **edits)

    def comment_payload(self, number: int, body: str, login: str, kind: str = "User") -> dict[str, Any]:
        # every comment GitHub sends has its own id (the bot deduplicates comment triggers by it)
        return example("issue_comment", "created", issue__number=number, issue__title=f"Issue {number}",
                       comment__body=body, comment__user__login=login, sender__login=login, sender__type=kind,
                       comment__id=time.monotonic_ns() % 2**40, repository__clone_url=str(self.remote))

    def configure_repo(self) -> dict[str, Any]:
        response = self.http.post("/api/agent-work-orders/repositories",
                                  json={"repository_url": f"{self.web}/{REPO}", "verify": True})
        assert response.status_code in (201, 409), response.text
        return response.json()

    # reading what a user would see

    def work_orders(self, issue: int) -> list[dict[str, Any]]:
        orders = self.http.get("/api/agent-work-orders/").json()
        return [o for o in orders if o["issue_number"] == issue]

    def finished(self, issue: int, timeout: float = 60) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            orders = self.work_orders(issue)
            return orders[0] if orders and orders[0]["status"] in ("completed", "failed") else None

        try:
            return wait_until(done, timeout=timeout, every=0.1)  # type: ignore[no-any-return]
        except AssertionError:
            raise AssertionError(f"work order for #{issue} did not finish; server log:\n{self.log()[-4000:]}") from None

    def steps(self, work_order_id: str) -> list[dict[str, Any]]:
        return self.http.get(f"/api/agent-work-orders/{work_order_id}/steps").json()["steps"]  # type: ignore[no-any-return]

    def comment_on(self, issue: int) -> str:
        """The bot's one comment on the issue, as it reads now (waits for the final edit)."""
        comments = [c for c in self.gh.comments(REPO, issue)]
        assert len(comments) == 1, comments
        return str(comments[0]["body"])


def script_for(issue: int, plan: list[dict[str, Any]], implement: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules for one issue's plan and implement steps (matched on the prompt's first line)."""
    return [
        {"match": f"{REPO}#{issue} — step: plan", "turns": plan},
        {"match": f"{REPO}#{issue} — step: implement", "turns": implement},
    ]
