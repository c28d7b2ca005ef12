"""`awo action` with the in-package fakes: a real bare remote and workspace, real payloads, the real store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.action import run_action, shared_store
from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.github_data import RepoInfo
from bot.models import Status
from bot.runtime import build_services
from bot.settings import RunnerEnv, Settings
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.testing import FakeAgent, FakeGitHub
from tests.action.runner_files import read
from tests.conftest import make_settings
from tests.gitrepo import branches, git, make_remote, show
from tests.integration.conftest import empty_tables
from tests.payloads import example

REPO = "Codertocat/Hello-World"
TOKEN = "ghs_actionTokenThatMustNeverReachTheAgent0123"


@dataclass
class Runner:
    """A runner's folders and files for one job."""

    root: Path
    remote: Path
    workspace: Path

    def env(self, event: str, payload: dict[str, Any], run_id: str = "7", **more: str) -> RunnerEnv:
        path = self.root / f"event-{run_id}.json"
        path.write_text(json.dumps(payload))
        values = {"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(path), "GITHUB_RUN_ID": run_id,
                  "GITHUB_RUN_ATTEMPT": "1", "GITHUB_REPOSITORY": REPO, "GITHUB_REF": "refs/heads/main",
                  "GITHUB_WORKSPACE": str(self.workspace), "RUNNER_TEMP": str(self.root / "temp"),
                  "GITHUB_OUTPUT": str(self.root / "output"), "GITHUB_STEP_SUMMARY": str(self.root / "summary"),
                  **more}
        return RunnerEnv(**values)  # type: ignore[arg-type]

    def outputs(self) -> dict[str, str]:
        return read(self.root / "output")

    def summary(self) -> str:
        return (self.root / "summary").read_text()


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    remote = make_remote(tmp_path / "remotes")
    workspace = tmp_path / "work" / "Hello-World"
    git("clone", "--quiet", str(remote), str(workspace), cwd=tmp_path)
    (tmp_path / "temp").mkdir()
    return Runner(tmp_path, remote, workspace)


@pytest.fixture
def hub(runner: Runner) -> FakeGitHub:
    return FakeGitHub(permissions={"Codertocat": "write"}, token=None, login=None,
                      repos={REPO: RepoInfo(REPO, "Codertocat", "Hello-World", "main", str(runner.remote),
                                            f"https://github.com/{REPO}")})


def action_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"git_protocols": ("https", "file"), "github_token": TOKEN, "agent_sandbox": "none"}
    values.update(overrides)
    settings = make_settings(tmp_path, **values)
    return settings.model_copy(update={"storage_type": "sqlite"}) if "storage_type" not in overrides else settings


def labelled(number: int = 12, **edits: Any) -> dict[str, Any]:
    return example("issues", "labeled", label__name="claude", issue__number=number,
                   issue__title="Add a greeting", issue__body="Please add hello.txt", **edits)


async def test_a_labelled_issue_runs_here_and_opens_a_pull_request(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    code = await run_action(action_settings(tmp_path), runner.env("issues", labelled()), github=hub, agent=agent)

    assert code == 0
    outputs = runner.outputs()
    assert outputs["status"] == "completed" and outputs["work_order_id"].startswith("wo-")
    assert outputs["branch"].startswith("claude/issue-12-") and outputs["branch"] in branches(runner.remote)
    assert show(runner.remote, outputs["branch"], "hello.txt") == "hello"
    assert outputs["pr_url"] == hub.pulls[0][1].html_url and outputs["session_id"] == "session-2"
    assert float(outputs["cost_usd"]) == pytest.approx(0.02) and outputs["num_turns"] == "2"
    on_issue = [body for repo, number, body in hub.comments.values() if number == 12]
    assert len(on_issue) == 1 and "✅ Done" in on_issue[0]  # the one progress comment, as the webhook path keeps
    summary = runner.summary()
    assert "✅ completed" in summary and f"]({outputs['pr_url']})" in summary
    assert "| implement | ✅ |" in summary and "Codertocat/Hello\\-World\\#12" in summary
    assert not (runner.workspace / "hello.txt").exists()  # the job's checkout is never edited
    assert not list(runner.workspace.rglob("*.db"))  # nor holds the store


async def test_the_mirror_is_made_from_the_job_checkout(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    await run_action(action_settings(tmp_path), runner.env("issues", labelled()), github=hub, agent=agent)

    [mirror] = (tmp_path / "temp/agent-work-orders/mirrors").glob("*.git")
    workspace_objects = {p.stat().st_ino for p in (runner.workspace / ".git/objects").rglob("*") if p.is_file()}
    mirror_objects = {p.stat().st_ino for p in (mirror / "objects").rglob("*") if p.is_file()}
    assert workspace_objects & mirror_objects  # hard-linked, not cloned again
    assert "url = " + str(runner.remote) in (mirror / "config").read_text()  # pushes go to the real remote


async def test_a_comment_without_the_phrase_is_skipped_and_says_why(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    payload = example("issue_comment", "created", comment__body="thanks, looks good", issue__number=3)

    code = await run_action(action_settings(tmp_path), runner.env("issue_comment", payload), github=hub, agent=agent)

    assert code == 0 and agent.requests == [] and hub.comments == {}
    assert runner.outputs() == {"work_order_id": "", "status": "skipped", "branch": "", "pr_url": "",
                                "cost_usd": "", "num_turns": "", "session_id": ""}
    assert "skipped" in runner.summary() and "@claude" in runner.summary()


async def test_a_failed_work_order_fails_the_step(runner: Runner, hub: FakeGitHub, tmp_path: Path) -> None:
    broken = FakeAgent(error="the model gave up")

    code = await run_action(action_settings(tmp_path), runner.env("issues", labelled()), github=hub, agent=broken)

    assert code == 1
    assert runner.outputs()["status"] == "failed"
    assert "❌ failed" in runner.summary() and "the model gave up" in runner.summary()


async def test_a_retried_step_does_not_run_the_event_twice(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    env = runner.env("issues", labelled())
    assert await run_action(action_settings(tmp_path), env, github=hub, agent=agent) == 0
    (runner.root / "output").unlink()

    assert await run_action(action_settings(tmp_path), env, github=hub, agent=agent) == 0

    assert len(hub.pulls) == 1 and runner.outputs()["status"] == "skipped"
    assert "handled already" in runner.summary()


async def test_a_prompt_run_opens_a_pull_request_without_any_issue(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    env = runner.env("workflow_dispatch", {"inputs": {}, "ref": "refs/heads/main"}, AWO_PROMPT="Add hello.txt")

    code = await run_action(action_settings(tmp_path), env, github=hub, agent=agent)

    assert code == 0 and hub.comments == {}  # no issue: nothing to comment on
    outputs = runner.outputs()
    assert outputs["pr_url"] == hub.pulls[0][1].html_url and hub.pulls[0][2]["base"] == "main"
    assert show(runner.remote, outputs["branch"], "hello.txt") == "hello"
    assert "Add hello.txt" in agent.requests[0].prompt


def test_a_prompt_on_an_issue_event_is_a_configuration_error(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = runner.env("issues", labelled(), AWO_PROMPT="do something")
    for name, value in env.model_dump(by_alias=True).items():
        monkeypatch.setenv(RunnerEnv.model_fields[name].validation_alias, str(value))  # type: ignore[arg-type]
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)

    assert cli.main(["action"]) == 2

    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("awo action: configuration error: prompt: is for workflow_dispatch")


def test_outside_a_runner_the_step_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    for name in ("RUNNER_TEMP", "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)

    assert cli.main(["action"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "RUNNER_TEMP: not set" in line


@pytest.mark.parametrize(("given", "chosen"), [
    ({}, "sqlite"),
    ({"database_url": "postgresql://u@db/x"}, "postgres"),
    ({"supabase_url": "https://x.supabase.co", "supabase_service_key": "k"}, "supabase"),
    ({"database_url": "postgresql://u@db/x", "storage_type": "sqlite"}, "sqlite"),
])
def test_the_shared_store_follows_the_credentials_given(given: dict[str, str], chosen: str) -> None:
    assert shared_store(Settings(**given)) == chosen  # type: ignore[arg-type]


class Fleet(FakeAgent):
    """An agent that, while it runs, lets a fleet worker of the same shared store try to claim work."""

    def __init__(self, open_fleet: Callable[[], Store]) -> None:
        super().__init__(files={"hello.txt": "hello\n"})
        self.open_fleet = open_fleet
        self.claimed: list[object] = []

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        fleet = self.open_fleet()
        await fleet.open()
        try:
            self.claimed.append(await fleet.claim("fleet-worker", 60))
        finally:
            await fleet.close()
        return await super().run(request, on_progress)


async def fleet_never_claims(settings: Settings, open_fleet: Callable[[], Store], runner: Runner,
                             hub: FakeGitHub) -> None:
    fleet = Fleet(open_fleet)

    assert await run_action(settings, runner.env("issues", labelled()), github=hub, agent=fleet) == 0

    assert fleet.claimed == [None, None]  # the work order was never pending for anyone else
    store = open_fleet()
    await store.open()
    [work_order] = await store.list_work_orders(None, 10)
    await store.close()
    assert work_order.status is Status.COMPLETED and work_order.lease_owner is None


async def test_no_fleet_worker_can_take_the_actions_work_order(runner: Runner, hub: FakeGitHub, tmp_path: Path) -> None:
    await fleet_never_claims(action_settings(tmp_path),
                             lambda: SqliteStore(tmp_path / "temp/agent-work-orders/work-orders.db"), runner, hub)


@pytest.mark.postgres
async def test_in_a_shared_postgres_no_fleet_worker_can_take_the_actions_work_order(
    runner: Runner, hub: FakeGitHub, tmp_path: Path, postgres_url: str,
) -> None:
    empty_tables(postgres_url)
    settings = action_settings(tmp_path, database_url=postgres_url, storage_type="postgres")
    await fleet_never_claims(settings, lambda: PostgresStore(postgres_url, max_size=2), runner, hub)


async def test_tools_and_pr_mode_inputs_narrow_what_runs(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    settings = action_settings(tmp_path, allowed_tools=("Read", "Grep", "Write"), pr_mode="none")

    assert await run_action(settings, runner.env("issues", labelled()), github=hub, agent=agent) == 0

    assert [r.allowed_tools for r in agent.requests] == [("Read", "Grep"), ("Read", "Grep", "Write")]
    assert hub.pulls == [] and runner.outputs()["pr_url"] == ""
    assert show(runner.remote, runner.outputs()["branch"], "hello.txt") == "hello"


def test_the_github_token_never_reaches_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"GITHUB_TOKEN": TOKEN, "CLAUDE_CODE_OAUTH_TOKEN": "oauth-token-for-the-cli",
                        "ANTHROPIC_API_KEY": "sk-ant-key", "DATABASE_URL": "postgresql://u:pw-secret@db/x"}.items():
        monkeypatch.setenv(name, value)
    from bot.settings import load_settings

    services = build_services(load_settings(), SqliteStore(":memory:"), None)

    env = services.agent.env  # type: ignore[attr-defined]
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "oauth-token-for-the-cli" and env["ANTHROPIC_API_KEY"] == "sk-ant-key"
    assert not any(TOKEN in v or "pw-secret" in v for v in env.values())
    assert "oauth-token-for-the-cli" in services.secrets  # redacted from comments, logs and summaries


@pytest.fixture(autouse=True)
def no_runner_leak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "AWO_PROMPT"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("AWO_ALLOWED_TOOLS", "Read,Bash", "unknown tool(s) ['Bash']"),
    ("AWO_PR_MODE", "merged", "AWO_PR_MODE"),
])
def test_a_bad_input_stops_the_step_with_one_line(
    variable: str, value: str, problem: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)

    assert cli.main(["action"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("awo: configuration error: " + variable) and problem in line


async def test_a_prompt_run_starts_from_the_branch_it_was_dispatched_on(
    runner: Runner, hub: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    git("checkout", "--quiet", "-b", "develop", cwd=runner.workspace)
    (runner.workspace / "develop.txt").write_text("only on develop\n")
    git("add", "--all", cwd=runner.workspace)
    git("-c", "user.name=O", "-c", "user.email=o@x.test", "commit", "-q", "-m", "develop", cwd=runner.workspace)
    git("push", "--quiet", "origin", "develop", cwd=runner.workspace)
    env = runner.env("workflow_dispatch", {"inputs": {}}, GITHUB_REF="refs/heads/develop", AWO_PROMPT="Add hello")

    assert await run_action(action_settings(tmp_path), env, github=hub, agent=agent) == 0

    branch = runner.outputs()["branch"]
    assert hub.pulls[0][2]["base"] == "develop" and show(runner.remote, branch, "develop.txt") == "only on develop"
