"""`awo action`: one GitHub Actions step. The runner's event goes through the webhook's routing and admission as a
delivery; the work order it makes is created already leased to this process and run here, inline; the outcome is
written back as step outputs and a step summary.

The store is the team's shared one when DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_KEY) is given, else
SQLite under RUNNER_TEMP: never in GITHUB_WORKSPACE, which a later step of the job may commit or upload.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from bot.action_report import failed_summary, output_text, outputs_of, skipped_summary, summary
from bot.agent import AgentRunner
from bot.errors import BotError, ConfigError
from bot.github import GitHubClient, GitHubPort
from bot.intake import Intake
from bot.models import Delivery, Repository, Status, WorkOrder, utcnow
from bot.pipeline import Services
from bot.repo_configs import config_metadata, repo_configs_for
from bot.report import redact
from bot.reporter import ConsoleReporter, Reporter
from bot.repositories import verify_repository
from bot.runtime import admission_limits, build_github, build_services, secret_values
from bot.settings import RunnerEnv, Settings, StorageType
from bot.store import Store, repository_for
from bot.store.factory import build_store
from bot.triggers import ROUTES, TriggerRules
from bot.worker import Worker, WorkerConfig, new_worker_id

log = logging.getLogger(__name__)
ROUTED_EVENTS = frozenset(event for event, _ in ROUTES)
DATA_FOLDER = "agent-work-orders"


def shared_store(settings: Settings) -> StorageType:
    """STATE_STORAGE_TYPE when set; else the credentials given choose: Postgres, Supabase, or SQLite on the runner."""
    if "storage_type" in settings.model_fields_set:
        return settings.storage_type
    if settings.database_url is not None:
        return "postgres"
    if settings.supabase_url and settings.supabase_service_key is not None:
        return "supabase"
    return "sqlite"


def for_runner(settings: Settings, runner: RunnerEnv) -> Settings:
    """The settings of a run on a runner: its data (the SQLite store, the mirror, the worktree) under RUNNER_TEMP."""
    if runner.runner_temp is None:
        raise ConfigError("RUNNER_TEMP", "not set: `awo action` runs as a step of a GitHub Actions job")
    data = (runner.runner_temp / DATA_FOLDER).resolve()
    if runner.workspace is not None and data.is_relative_to(runner.workspace.resolve()):
        raise ConfigError("RUNNER_TEMP", f"{data} is inside GITHUB_WORKSPACE, which the job may commit")
    if not runner.repository or "/" not in runner.repository:
        raise ConfigError("GITHUB_REPOSITORY", "not set to owner/name")
    return settings.model_copy(update={
        "storage_type": shared_store(settings), "data_dir": data, "sqlite_path": data / "work-orders.db",
        "pool_slots": 0,  # one work order per job: nothing to reuse a worktree for
    })


def delivery_of(runner: RunnerEnv) -> Delivery:
    """The runner's event as a delivery: a re-run of the job is a new one, a retried step is the same."""
    if not runner.event_name or runner.event_path is None:
        raise ConfigError("GITHUB_EVENT_PATH", "not set: `awo action` runs as a step of a GitHub Actions job")
    try:
        raw = runner.event_path.read_text()
        payload = json.loads(raw)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError("GITHUB_EVENT_PATH", f"cannot read the event: {exc}") from None
    if not isinstance(payload, dict):
        raise ConfigError("GITHUB_EVENT_PATH", "the event is not a JSON object")
    if runner.prompt and runner.event_name in ROUTED_EVENTS:
        raise ConfigError("prompt", f"is for workflow_dispatch or schedule; on {runner.event_name} the comment or "
                          "label is the request")
    action = payload.get("action")
    return Delivery(delivery_id=f"actions-{runner.run_id or 0}-{runner.run_attempt}", event=runner.event_name,
                    action=action if isinstance(action, str) else "", repo_full_name=runner.repository,
                    payload=payload, raw=raw)


def branch_of(ref: str) -> str | None:
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


@dataclass
class Outcome:
    """How the step ends: its exit code, outputs and summary."""

    code: int
    outputs: dict[str, str]
    summary: str


class ActionWorker(Worker):
    """A worker of one work order; one with no issue (a `prompt` run) reports to the job's log, not on GitHub."""

    def reporter_for(self, work_order: WorkOrder) -> Reporter:
        if work_order.issue_number is None:
            return ConsoleReporter()
        return super().reporter_for(work_order)


@dataclass
class Job:
    """The step's run: the event admitted (or the prompt taken), its work order run inline, the outcome told."""

    settings: Settings
    runner: RunnerEnv
    store: Store
    github: GitHubPort
    agent: AgentRunner | None = None  # tests' fake; else the CLI in its sandbox, as the server runs it
    worker_id: str = field(default_factory=new_worker_id)
    leased: WorkOrder | None = None

    def lease(self, work_order: WorkOrder) -> WorkOrder:
        """Created leased to this process, so no worker of a shared store's fleet can take it first."""
        now = utcnow()
        self.leased = work_order.model_copy(update={
            "status": Status.RUNNING, "lease_owner": self.worker_id, "attempt": 1, "started_at": now,
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds)})
        return self.leased

    async def run(self, delivery: Delivery) -> Outcome:
        repo = await self.repository()
        if not await self.store.record_delivery(delivery):
            earlier = await self.store.get_delivery(delivery.delivery_id)
            return skipped(f"this job's event was handled already ({earlier.outcome or 'still being handled'})")
        services = build_services(self.settings, self.store, self.github)
        services.agent = self.agent or services.agent
        work_order = await (self.prompt_work_order(repo, delivery, services) if self.runner.prompt
                            else self.admitted(delivery, services))
        if isinstance(work_order, str):
            return skipped(work_order)
        if self.runner.workspace is not None and repo.clone_url and \
                await services.checkout.seed(repo.clone_url, self.runner.workspace):
            log.info("the mirror was made from the job's checkout in %s", self.runner.workspace)
        return await self.execute(work_order, services)

    async def repository(self) -> Repository:
        """The job's repository as configured in the store; added (verified on GitHub) if it is not yet."""
        url = f"{self.settings.github_web_origin}/{self.runner.repository}"
        found = await repository_for(self.store, self.runner.repository, url)
        if found is not None:
            return found
        owner = self.runner.repository.split("/")[0]
        verified = await verify_repository(Repository(repository_url=url, owner=owner), self.github,
                                           self.settings.remote_policy, self.settings.github_web_origin)
        return await self.store.add_repository(verified)

    async def admitted(self, delivery: Delivery, services: Services) -> WorkOrder | str:
        """The webhook's intake, inline: the work order it queued (leased here), or why there is none."""
        s = self.settings
        rules = TriggerRules(s.trigger_phrase, s.trigger_label, s.repo_triggers)
        intake = Intake(self.store, self.github, rules, s.max_attempts, secrets=services.secrets,
                        limits=admission_limits(s), continue_pull_requests=s.continue_pull_requests,
                        bot_login=s.bot_login, configs=repo_configs_for(s), claimant=self.lease)
        try:
            outcome = await intake.process(delivery)
        except BotError as exc:  # recorded, so that no server's recovery queues it for the fleet later
            await self.store.mark_delivery(delivery.delivery_id, f"failed: {redact(str(exc), services.secrets)}"[:300])
            raise
        if self.leased is None or outcome != f"queued {self.leased.id}":
            return outcome
        return await self.store.get_work_order(self.leased.id)

    async def prompt_work_order(self, repo: Repository, delivery: Delivery, services: Services) -> WorkOrder:
        """The `prompt` input on the repository's default branch (or the branch the run is on); no issue."""
        base = branch_of(self.runner.ref) or repo.default_branch
        metadata: dict[str, object] = {"event": delivery.event, "source": "awo action", "default_branch": base,
                                       "commands": repo.default_commands}
        configs = repo_configs_for(self.settings)
        if configs is not None:
            resolved = await configs.resolve(self.github, repo.full_name)
            if resolved.effective is None:
                raise BotError(f"{resolved.source}: the repository's configuration is not valid: {resolved.error}")
            metadata.update(config_metadata(resolved.effective))
        services.local_remote = repo.clone_url  # the configured clone URL, at the run's branch
        work_order = self.lease(WorkOrder(
            repository_url=repo.repository_url, repo_full_name=repo.full_name, user_request=self.runner.prompt,
            delivery_id=delivery.delivery_id, max_attempts=1, metadata=metadata))
        created = await self.store.create_work_order(work_order)
        await self.store.mark_delivery(delivery.delivery_id, f"queued {created.id}")
        return created

    async def execute(self, work_order: WorkOrder, services: Services) -> Outcome:
        worker = ActionWorker(services, WorkerConfig(concurrency=1, lease_seconds=self.settings.lease_seconds),
                              worker_id=self.worker_id)
        finished = await worker.work(work_order)
        steps = await self.store.list_steps(finished.id)
        code = 0 if finished.status is Status.COMPLETED else 1
        return Outcome(code, outputs_of(finished, str(finished.status)),
                       summary(finished, steps, self.runner.server_url.rstrip("/")))


def skipped(reason: str) -> Outcome:
    log.info("nothing to run: %s", reason)
    return Outcome(0, outputs_of(None, "skipped"), skipped_summary(reason))


def tell(runner: RunnerEnv, outcome: Outcome) -> None:
    """Append the outputs and the summary to the runner's files (each is absent outside a runner)."""
    if runner.output is not None:
        with runner.output.open("a") as out:
            out.write(output_text(outcome.outputs))
    if runner.step_summary is not None:
        with runner.step_summary.open("a") as out:
            out.write(outcome.summary)


async def run_action(
    settings: Settings, runner: RunnerEnv, *, github: GitHubPort | None = None, agent: AgentRunner | None = None,
) -> int:
    """The step: 0 when the work order completed or nothing was to run, 1 when it failed (ConfigError: the CLI's 2).
    Tests pass fakes for the GitHub and agent ports."""
    settings = for_runner(settings, runner)
    delivery = delivery_of(runner)
    github = github or build_github(settings)
    if github is None:
        raise ConfigError("GITHUB_TOKEN", "not set: give the action a github_token")
    store = build_store(settings)
    try:
        await open_store(store, settings)
        outcome = await Job(settings, runner, store, github, agent).run(delivery)
    except ConfigError:
        raise
    except BotError as exc:  # told in the summary too: the job's page shows why the step failed
        reason = redact(str(exc), secret_values(settings))
        log.error("the step failed: %s", reason)
        outcome = Outcome(1, outputs_of(None, "failed"), failed_summary(reason))
    finally:
        await store.close()
        if isinstance(github, GitHubClient):
            await github.close()
    tell(runner, outcome)
    return outcome.code


async def open_store(store: Store, settings: Settings) -> None:
    await store.open()
    health = await store.health()
    if not health.tables_exist:
        raise ConfigError("STATE_STORAGE_TYPE", f"the {settings.effective_storage} store has no tables "
                          f"({health.hint or 'run `awo migrate` against it first'})")
