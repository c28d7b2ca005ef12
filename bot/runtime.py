"""Wire once: build the store, GitHub client, agent and worker from Settings, and run them."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field

from bot import process
from bot.admission import Limits as AdmissionLimits
from bot.agent import AgentRunner, ClaudeCli, agent_env
from bot.checkout import Checkout, Identity
from bot.errors import StoreUnavailable
from bot.github import GitHubClient, GitHubPort
from bot.intake import Intake
from bot.metrics import Metrics
from bot.pipeline import Limits, Services
from bot.pulse import Pulse
from bot.repo_configs import repo_configs_for
from bot.retention import Retention
from bot.sandbox import SandboxStatus, build_sandbox, probe_sandbox
from bot.settings import Settings
from bot.store import Store
from bot.store.factory import build_store
from bot.triggers import TriggerRules
from bot.worker import Worker, WorkerConfig
from bot.worklog import LogKind

log = logging.getLogger(__name__)
STORE_RETRY_MAX = 5.0  # seconds between attempts to reach a store that was not ready at start-up


@dataclass(frozen=True)
class Tool:
    available: bool
    version: str | None = None
    path: str | None = None


async def probe_tool(*argv: str) -> Tool:
    """Is the program there, and which version does it say it is?"""
    path = shutil.which(argv[0])
    if path is None:
        return Tool(False)
    result = await process.run([path, *argv[1:]], timeout=20)
    first = (result.stdout or result.stderr).strip().splitlines()[:1]
    return Tool(result.returncode == 0, first[0] if first else None, path)


def build_github(settings: Settings, keep_connections: bool = False,
                 metrics: Metrics | None = None) -> GitHubPort | None:
    """The GitHub client; a long-lived runtime keeps its connections open between calls (and closes them)."""
    if settings.github_token is None:
        return build_app_github(settings, keep_connections, metrics)
    return GitHubClient(settings.github_token.get_secret_value(), settings.github_api_url, keep_connections,
                        metrics=metrics)


def build_app_github(settings: Settings, keep_connections: bool = False,
                     metrics: Metrics | None = None) -> GitHubPort | None:
    """Authenticated as the GitHub App (an installation token per repository), when one is configured."""
    key = settings.app_private_key
    if settings.github_app_id is None or key is None:
        return None
    return GitHubClient("", settings.github_api_url, keep_connections, app=(settings.github_app_id, key),
                        metrics=metrics)


def bot_secrets(settings: Settings) -> tuple[str, ...]:
    """The bot's own credentials: what the agent must never see."""
    values = [*settings.webhook_secrets, settings.github_token, settings.github_app_private_key,
              settings.database_url, settings.supabase_service_key, settings.api_token]
    return tuple(v.get_secret_value() for v in values if v is not None) + (
        (settings.app_private_key,) if settings.github_app_private_key_file is not None and settings.app_private_key
        else ())


def secret_values(settings: Settings) -> tuple[str, ...]:
    """Every secret the bot knows, for redaction."""
    return bot_secrets(settings) + tuple(v for k, v in settings.agent_env.items() if "KEY" in k or "TOKEN" in k)


def build_agent(settings: Settings) -> ClaudeCli:
    """The CLI in its sandbox, with an environment that holds none of the bot's credentials."""
    env = agent_env(settings.path_env, settings.agent_env, bot_secrets(settings))
    return ClaudeCli(settings.claude_cli_path, env, build_sandbox(settings.agent_sandbox, settings.path_env))


def admission_limits(settings: Settings) -> AdmissionLimits:
    return AdmissionLimits(settings.trigger_max_age_seconds, settings.max_waiting_per_issue,
                           settings.rate_limit_per_actor, settings.rate_limit_per_repo, settings.max_pending,
                           daily_usd_per_repo=settings.daily_usd_per_repo, daily_usd=settings.daily_usd)


def build_services(settings: Settings, store: Store, github: GitHubPort | None,
                   metrics: Metrics | None = None) -> Services:
    base_env = {"PATH": settings.path_env, "HOME": settings.home}
    return Services(
        store=store,
        checkout=Checkout(settings.data_dir, base_env, policy=settings.remote_policy, pool_slots=settings.pool_slots,
                          pool_max_bytes=int(settings.pool_max_gb * 1e9)),
        agent=build_agent(settings),
        github=github,
        limits=Limits(settings.model, settings.max_turns, settings.step_timeout_seconds, settings.context_budget,
                      max_run_usd=settings.max_run_usd),
        identity=Identity(settings.bot_name, settings.bot_email),
        draft=settings.draft_pull_requests,
        secrets=secret_values(settings),
        author=app_author(github),
        public_url=settings.public_url,
        metrics=metrics or Metrics(),
    )


def app_author(github: GitHubPort | None) -> Callable[[], Awaitable[Identity | None]] | None:
    """Commits by a GitHub App are its bot user's (`<slug>[bot]`, its noreply address), asked once."""
    if not isinstance(github, GitHubClient) or github.app is None:
        return None
    client = github

    async def author() -> Identity | None:
        found = await client.app_identity()
        return Identity(*found) if found else None

    return author


@dataclass
class Runtime:
    """Everything one process runs: the store, intake of deliveries and (optionally) a worker."""

    settings: Settings
    store: Store
    github: GitHubPort | None
    services: Services
    intake: Intake
    worker: Worker | None
    tools: dict[str, Tool] = field(default_factory=dict)
    sandbox: SandboxStatus | None = None
    retention: Retention | None = None
    store_problem: str | None = None  # why the store is not ready, while it is not
    metrics: Metrics = field(default_factory=Metrics)  # this process's counters, shared with its parts
    changes: Pulse = field(default_factory=Pulse)  # a work order queued or a status written here (the dashboard)
    _store_open: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Start what can start now; without a ready store, keep trying in the background (/health says why)."""
        self._loop = asyncio.get_running_loop()
        self.tools = {"claude_cli": await probe_tool(self.settings.claude_cli_path, "--version"),
                      "git": await probe_tool("git", "--version")}
        await self._probe_sandbox()
        if await self._store_ready():
            await self._start_work()
            return
        log.warning("the store is not ready (%s); intake and worker start once it is", self.store_problem)
        self._tasks.append(asyncio.create_task(self._start_when_ready(), name="store"))

    async def _store_ready(self) -> bool:
        """Open the store if it is not yet, and check its tables; `store_problem` says what is missing."""
        if not self._store_open:
            try:
                await self.store.open()
            except StoreUnavailable as exc:
                self.store_problem = str(exc)
                return False
            self._store_open = True
        health = await self.store.health()
        ready = health.status == "healthy" and health.tables_exist
        self.store_problem = None if ready else (health.hint or "the store's tables are missing")
        return ready

    async def _start_when_ready(self) -> None:
        delay, said = 0.5, self.store_problem
        while not await self._store_ready():
            if self.store_problem != said:  # one line per change (down → up but not migrated), not per retry
                log.warning("the store is not ready (%s)", self.store_problem)
                said = self.store_problem
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX)
        log.info("the store is ready: starting intake%s", " and the worker" if self.worker else "")
        await self._start_work()

    async def _start_work(self) -> None:
        self._tasks.append(asyncio.create_task(self.intake.run(), name="intake"))
        recovered = await self.intake.recover()
        if recovered:
            log.info("re-processing %d deliveries recorded before the last stop", recovered)
        if self.worker is not None and not self._stop.is_set():
            self._tasks.append(asyncio.create_task(self.worker.run(self._stop), name="worker"))
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self.retention.run(self._stop), name="retention"))

    async def _probe_sandbox(self) -> None:
        """One line at start-up when the agent would run unsandboxed, or cannot run at all."""
        self.sandbox = await probe_sandbox(build_sandbox(self.settings.agent_sandbox, self.settings.path_env))
        if not self.sandbox.available:
            log.error("%s; work orders fail until then", self.sandbox.detail)
        elif self.sandbox.kind == "none":
            log.warning("%s", self.sandbox.detail)

    async def stop(self) -> None:
        """Stop intake at once; the worker stops claiming and gets the grace period for what it runs."""
        self._stop.set()
        for task in self._tasks:
            if task.get_name() in ("intake", "store"):
                task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError):
                await task
        if self._store_open:
            await self.store.close()
        if isinstance(self.github, GitHubClient):
            await self.github.close()

    def hurry(self) -> None:
        """A second signal: end the grace period now (running work orders are released, not finished).

        Safe from a plain signal handler (uvicorn's): it wakes the loop instead of touching it in between."""
        if self.worker is not None:
            (self._loop or asyncio.get_running_loop()).call_soon_threadsafe(self.worker.hurry.set)


def build_runtime(
    settings: Settings, workers: int | None = None, *,
    github: GitHubPort | None = None, agent: AgentRunner | None = None,
) -> Runtime:
    """The process's parts; tests pass fakes for the GitHub and agent ports."""
    store = build_store(settings)
    metrics = Metrics()
    github = github or build_github(settings, keep_connections=True, metrics=metrics)
    services = build_services(settings, store, github, metrics)
    if agent is not None:
        services.agent = agent
    concurrency = settings.worker_concurrency if workers is None else workers
    worker = None
    if concurrency > 0:
        config = WorkerConfig(concurrency, settings.lease_seconds, settings.poll_seconds,
                              grace_seconds=settings.shutdown_grace_seconds)
        worker = Worker(services, config)
    changes = Pulse()
    services.log_observer = lambda entry: changes.fire() if entry.kind == LogKind.STATUS else None
    wake = worker.notify if worker else (lambda: None)

    def queued() -> None:
        wake()
        changes.fire()

    rules = TriggerRules(settings.trigger_phrase, settings.trigger_label, settings.repo_triggers)
    intake = Intake(store, github, rules, settings.max_attempts, queued,
                    secrets=services.secrets, limits=admission_limits(settings),
                    continue_pull_requests=settings.continue_pull_requests, bot_login=settings.bot_login,
                    configs=repo_configs_for(settings), public_url=settings.public_url, metrics=metrics)
    retention = Retention(store, settings.data_dir, settings.delivery_retention_days, settings.sweep_seconds)
    return Runtime(settings, store, github, services, intake, worker, retention=retention, metrics=metrics,
                   changes=changes)
