"""A fleet of real `awo` processes on one Postgres database, as if each ran on its own machine.

Each process has its own AWO_DATA_DIR (mirrors, worktrees); they share only the database, the fake GitHub
(on loopback, in the test process) and a bare git remote on disk. The agent is tests/support/fake_claude.py.
Used by tests/fleet and by benchmarks/fleet.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from githubkit.webhooks import sign
from psycopg.rows import dict_row

from bot.errors import Conflict
from bot.migrate import apply_migrations
from bot.models import Repository, WorkOrder
from bot.store.postgres import PostgresStore
from tests.e2e.harness import free_port, wait_until
from tests.gitrepo import git, make_remote
from tests.integration.conftest import fresh_database
from tests.payloads import example
from tests.support.fake_github import FakeGitHub, FakeGitHubClient

ROOT = Path(__file__).resolve().parents[2]
FAKE_CLAUDE = ROOT / "tests/support/fake_claude.py"
REPO = "Codertocat/Hello-World"
SECRET = "fleet-webhook-secret"
TOKEN = "ghs_fleetTokenThatMustNeverLeak0123456789"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
Row = dict[str, Any]


@contextmanager
def migrated_database() -> Iterator[str]:
    """A fresh database on the shared server, migrated; dropped afterwards."""
    with fresh_database() as url:
        asyncio.run(apply_migrations(url))
        yield url


# ---------------------------------------------------------------- processes


def children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in done.stdout.split()]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, whatever session it runs in (the CLI and git run in their own)."""
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


@dataclass
class Proc:
    """One `awo` process, in its own session, logging to a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_id(self, timeout: float = 30) -> str:
        """The id the worker leases under, once its claim loop has started."""
        def started() -> str | None:
            found = re.search(r"worker (\S+) started", self.log())
            if found is None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return found.group(1) if found else None

        return str(wait_until(started, timeout=timeout))

    def agent_pids(self) -> list[int]:
        """The fake Claude CLI processes this worker is running now."""
        return [pid for pid in descendants(self.pid) if "fake_claude" in command_line(pid)]

    def kill(self) -> None:
        """Die like a machine: freeze the process, then SIGKILL it and everything it started."""
        if self.popen.poll() is not None:
            return
        signal_quietly(self.pid, signal.SIGSTOP)
        tree = descendants(self.pid)
        for pid in [self.pid, *tree]:
            signal_quietly(pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


@dataclass
class Receiver:
    """`awo serve`: the webhook receiver (and, with workers > 0, a worker inside)."""

    proc: Proc
    url: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def deliver(self, event: str, payload: dict[str, Any], delivery: str) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                   "X-Hub-Signature-256": sign(SECRET, body, "sha256"), "Content-Type": "application/json"}
        return self.http.post("/webhooks/github", content=body, headers=headers)

    def health(self) -> httpx.Response:
        return self.http.get("/health")


def fake_cli(folder: Path, sleep: float) -> Path:
    """The fake CLI, slowed down by `sleep` seconds per run.

    The bot hands the agent only PATH, HOME and ANTHROPIC_*/CLAUDE_* variables, so FAKE_CLAUDE_SLEEP set on a
    worker never reaches the CLI: the delay is baked into a wrapper script instead (not for `--version`, which
    the bot asks at start-up).
    """
    if not sleep:
        return FAKE_CLAUDE
    wrapper = folder / f"claude-sleep-{sleep:g}"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = --version ] || export FAKE_CLAUDE_SLEEP={sleep:g}\n'
                       f'exec {sys.executable} {FAKE_CLAUDE} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


# ---------------------------------------------------------------- the fleet


class Fleet:
    """Fake GitHub and a bare remote, and the `awo` processes a test starts against one database."""

    def __init__(self, root: Path, database_url: str, *, lease_seconds: float = 2, poll_seconds: float = 0.2) -> None:
        self.root = root
        self.database_url = database_url
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.remote = make_remote(root / "remotes")
        self.github = FakeGitHub().start()
        self.gh: FakeGitHubClient = self.github.client()
        self.gh.seed({
            "tokens": [TOKEN],
            "repos": {REPO: {"default_branch": "main", "clone_url": str(self.remote)}},
            "permissions": {REPO: {"Codertocat": "write"}},
        })
        self.procs: list[Proc] = []
        self.receivers: list[Receiver] = []

    def environment(self, name: str, agent_sleep: float, extra: dict[str, str]) -> dict[str, str]:
        home, scratch = self.root / "home", self.root / "tmp"  # a killed worker leaves its temp dirs here
        home.mkdir(exist_ok=True)
        scratch.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(scratch),
            "STATE_STORAGE_TYPE": "postgres", "DATABASE_URL": self.database_url,
            "AWO_DATA_DIR": str(self.root / name), "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": self.github.url,
            "CLAUDE_CLI_PATH": str(fake_cli(self.root, agent_sleep)),
            # The fake CLI is the project's Python script run by the venv's Python, which the sandbox (rightly)
            # does not mount; the sandbox is tested with the real CLI in tests/e2e/test_sandbox.py.
            "AWO_AGENT_SANDBOX": "none",
            "AWO_LEASE_SECONDS": f"{self.lease_seconds:g}", "AWO_POLL_SECONDS": f"{self.poll_seconds:g}",
            "AWO_STEP_TIMEOUT_SECONDS": "120", "LOG_LEVEL": "INFO",
            # one person labels hundreds of issues here on purpose: the flood limits are not under test
            "AWO_RATE_LIMIT_PER_ACTOR": "100000", "AWO_RATE_LIMIT_PER_REPO": "100000", "AWO_MAX_PENDING": "100000",
            "AWO_GIT_PROTOCOLS": "https,file", **extra,  # the remote is a bare repository on disk
        }

    def spawn(self, name: str, argv: list[str], agent_sleep: float, extra: dict[str, str]) -> Proc:
        log_path = self.root / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *argv], cwd=ROOT, env=self.environment(name, agent_sleep, extra),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        proc = Proc(name, popen, log_path, self.root / name)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str, concurrency: int = 2, agent_sleep: float = 0.0, **extra: str) -> Proc:
        return self.spawn(name, ["worker", "--concurrency", str(concurrency)], agent_sleep, extra)

    def start_workers(self, count: int, concurrency: int = 2) -> list[Proc]:
        """`count` workers, returned once every one of them is claiming."""
        workers = [self.start_worker(f"worker-{n}", concurrency) for n in range(count)]
        for worker in workers:
            worker.worker_id()
        return workers

    def start_receiver(self, name: str = "receiver", workers: int = 0, agent_sleep: float = 0.0,
                       **extra: str) -> Receiver:
        port = free_port()
        env = {"AGENT_WORK_ORDERS_HOST": "127.0.0.1", "AGENT_WORK_ORDERS_PORT": str(port), **extra}
        proc = self.spawn(name, ["serve", "--workers", str(workers)], agent_sleep, env)
        receiver = Receiver(proc, f"http://127.0.0.1:{port}")
        self.receivers.append(receiver)
        wait_until(lambda: _answers(receiver) or _exited(proc), timeout=30)
        return receiver

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid})\n{p.log()[-3000:]}" for p in self.procs)

    def stop(self) -> None:
        for receiver in self.receivers:
            receiver.http.close()
        for proc in self.procs:
            proc.kill()
        violations = self.gh.violations()
        self.gh.close()
        self.github.stop()
        assert violations == [], f"requests GitHub's OpenAPI description does not allow: {violations}"

    # acting like GitHub

    def issue_payload(self, number: int) -> dict[str, Any]:
        """A real `issues.labeled` payload: Codertocat (write access) labels issue `number` with `claude`."""
        return example("issues", "labeled", label__name="claude", issue__number=number,
                       issue__title=f"Fleet task {number}", issue__body=f"Body of issue {number}",
                       repository__clone_url=str(self.remote))

    # what a user would check

    def final_comments(self, issues: list[int], timeout: float = 10) -> dict[int, list[str]]:
        """The bot's comments on each issue, once each has one saying "Done" (or as they are at the timeout).

        A worker edits the comment just after it finishes the work order, so the row is done a moment earlier.
        """
        deadline = time.monotonic() + timeout
        while True:
            bodies = {n: [str(c["body"]) for c in self.gh.comments(REPO, n)] for n in issues}
            if time.monotonic() > deadline or all(any("✅ Done" in b for b in bodies[n]) for n in issues):
                return bodies
            time.sleep(0.1)

    def agent_files(self, branches: list[tuple[str, int]]) -> dict[str, str]:
        """branch → the text of the file the fake agent wrote for its issue, read from the remote at once."""
        specs = "".join(f"{branch}:{agent_file(issue)}\n" for branch, issue in branches)
        done = subprocess.run(["git", "cat-file", "--batch"], cwd=self.remote, input=specs.encode(),
                              capture_output=True, check=True)
        return dict(zip([b for b, _ in branches], _batch_blobs(done.stdout), strict=True))


def _answers(receiver: Receiver) -> bool:
    try:
        return receiver.health().status_code in (200, 503)
    except httpx.TransportError:
        return False


def _exited(proc: Proc) -> bool:
    if proc.popen.poll() is not None:
        raise AssertionError(f"{proc.name} exited early:\n{proc.log()[-3000:]}")
    return False


def _batch_blobs(output: bytes) -> list[str]:
    """Blob texts from `git cat-file --batch` output ("missing" for an absent path)."""
    blobs, rest = [], output
    while rest:
        header, _, rest = rest.partition(b"\n")
        if header.endswith(b" missing"):
            blobs.append("missing")
            continue
        size = int(header.split()[2])
        blobs.append(rest[:size].decode())
        rest = rest[size + 1:]
    return blobs


def agent_file(issue: int) -> str:
    """The file tests/support/fake_claude.py writes in an implement step for this issue."""
    return f"work-{REPO.replace('/', '-')}-{issue}.txt"


def agent_text(issue: int) -> str:
    return f"Work order for {REPO}#{issue} — step: implement\n"


# ---------------------------------------------------------------- the database, as tests read and fill it


def fetch(database_url: str, query: str, params: Row | tuple[Any, ...] | None = None) -> list[Row]:
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def work_order(remote: Path, issue: int) -> WorkOrder:
    """What intake would queue for issue `issue`, with the single `implement` agent step."""
    return WorkOrder(
        repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=issue,
        user_request=f"Fleet task {issue}", trigger_actor="Codertocat",
        metadata={"default_branch": "main", "commands": ["implement"],
                  "issue_title": f"Fleet task {issue}"},
    )


async def _create(database_url: str, orders: list[WorkOrder]) -> None:
    store = PostgresStore(database_url, max_size=2)
    await store.open()
    try:
        for order in orders:
            await store.create_work_order(order)
    finally:
        await store.close()


def queue(database_url: str, remote: Path, issues: range) -> list[str]:
    """Queue one work order per issue (on the configured repository); returns their ids."""
    orders = [work_order(remote, issue) for issue in issues]
    configure_repository(database_url, remote)
    asyncio.run(_create(database_url, orders))
    return [o.id for o in orders]


async def _add_repository(database_url: str, remote: Path) -> None:
    store = PostgresStore(database_url, max_size=1)
    await store.open()
    try:
        await store.add_repository(Repository(
            repository_url=f"https://github.com/{REPO}", default_branch="main", is_verified=True,
            default_commands=["implement"], clone_url=str(remote)))
    except Conflict:
        pass  # configured already
    finally:
        await store.close()


def configure_repository(database_url: str, remote: Path) -> None:
    """Configure the repository (as `awo repos add` would, the clone URL as GitHub would answer it)."""
    asyncio.run(_add_repository(database_url, remote))


def wait_for_all(fleet: Fleet, count: int, timeout: float) -> list[Row]:
    """Every work order, once `count` of them have ended."""
    def ended() -> list[Row] | None:
        rows = fetch(fleet.database_url, "SELECT * FROM archon_agent_work_orders")
        done = [r for r in rows if r["status"] in ("completed", "failed", "cancelled")]
        return rows if len(done) >= count else None

    try:
        return list(wait_until(ended, timeout=timeout, every=0.1))
    except AssertionError:
        raise AssertionError(f"{count} work orders did not end within {timeout} s\n{fleet.logs()}") from None


# ---------------------------------------------------------------- a private Postgres, to stop and start


class PrivateCluster:
    """A throwaway PostgreSQL cluster on its own port, run as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="awo-pg-"))
        self.data, self.sockets = self.home / "data", self.home / "sockets"
        self.sockets.mkdir()
        shutil.chown(self.home, "postgres")
        shutil.chown(self.sockets, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")

    def create(self) -> PrivateCluster:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8")
        self.start()
        asyncio.run(apply_migrations(self.url))
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.home / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop at once, like a crash (`-m immediate`): no checkpoint, connections cut."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        done = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                               "status"], capture_output=True)
        return done.returncode == 0

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def git_branches(remote: Path) -> set[str]:
    return set(git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=remote).splitlines())
