"""Spend caps through the bot: the cost against the cap in the report, a cap spent by earlier steps, and a
trigger refused at admission, with the figures, once a daily cap is reached."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.models import Status, Step, WorkOrder, utcnow
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.conftest import make_settings
from tests.gitrepo import make_remote
from tests.integration.test_work_orders import REPO, claim_and_run, configured, order
from tests.unit.test_admission import WRITERS, app, comment, refusals, settle, work_orders
from tests.unit.test_webhooks import post


@pytest.fixture
async def capped(settings: Settings, github: FakeGitHub, agent: FakeAgent, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = await configured(settings.model_copy(update={"max_run_usd": 5.0}), make_remote(tmp_path / "remotes"),
                               github, agent)
    yield runtime
    await runtime.store.close()


async def test_the_final_report_shows_the_cost_against_the_cap(
    capped: Runtime, github: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    agent.cost_usd = 0.21
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(capped, order(tmp_path, "w", progress_comment_id=comment_id))
    assert done.status is Status.COMPLETED, done.error_message
    assert "**Cost:** $0.42 of $5.00" in github.comments[comment_id][2]
    assert [r.budget.remaining for r in agent.requests if r.budget] == [5.0, pytest.approx(4.79)]


async def test_a_work_orders_own_cap_spent_by_its_plan_fails_it_before_implementing(
    capped: Runtime, github: FakeGitHub, agent: FakeAgent, tmp_path: Path
) -> None:
    agent.cost_usd = 0.52
    comment_id = await github.create_comment(REPO, 7, "queued")
    wo = order(tmp_path, "w", progress_comment_id=comment_id)
    done = await claim_and_run(capped, wo.model_copy(update={"metadata": {**wo.metadata, "max_budget_usd": 0.5}}))
    assert done.status is Status.FAILED
    assert done.error_message == "implement: not started: the steps before it spent $0.52 of the work order's $0.50 cap"
    body = github.comments[comment_id][2]
    assert "**Cost:** $0.52 of $0.50" in body and "$0.52 of the work order's $0.50 cap" in body
    assert len(agent.requests) == 1


async def test_without_a_cap_the_report_shows_the_cost_alone(
    engine: Runtime, github: FakeGitHub, tmp_path: Path
) -> None:
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(tmp_path, "w", progress_comment_id=comment_id))
    assert "**Cost:** $0.02 ·" in github.comments[comment_id][2] and "max_budget_usd" not in done.metadata


@pytest.fixture
async def engine(settings: Settings, github: FakeGitHub, agent: FakeAgent, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = await configured(settings, make_remote(tmp_path / "remotes"), github, agent)
    yield runtime
    await runtime.store.close()


# daily caps, at admission


@pytest.fixture
def writers(github: FakeGitHub) -> FakeGitHub:
    github.permissions.update(dict.fromkeys(WRITERS, "write"))
    return github


def spent(client: TestClient, repo: str, cost: float, wo_id: str) -> None:
    """A step of an earlier work order on `repo` that recorded `cost` today."""
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    client.portal.call(store.create_work_order, WorkOrder(  # type: ignore[union-attr]
        agent_work_order_id=wo_id, repository_url=f"https://github.com/{repo}", repo_full_name=repo,
        issue_number=900, status=Status.COMPLETED))
    client.portal.call(store.add_step, Step(  # type: ignore[union-attr]
        agent_work_order_id=wo_id, step="implement", agent_name="Implementor", success=True, duration_seconds=1,
        executed_at=utcnow(), step_order=1, cost_usd=cost))


def capped_bot(tmp_path: Path, github: FakeGitHub, **caps: float) -> Iterator[TestClient]:
    yield from app(build_runtime(make_settings(tmp_path, **caps), github=github))


def test_a_repository_over_its_daily_cap_is_refused_with_the_figures(
    tmp_path: Path, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    for bot in capped_bot(tmp_path, writers, daily_usd_per_repo=10.0):
        spent(bot, REPO, 6.2, "wo-a")
        post(bot, comment(1, comment__id=1), event="issue_comment", delivery="d-1")
        settle(bot)
        assert [wo.issue_number for wo in work_orders(bot)] == [1, 900]  # $6.20 of $10.00: admitted
        spent(bot, REPO, 6.2, "wo-b")
        spent(bot, "octo/elsewhere", 50.0, "wo-c")  # another repository's spend is not this one's
        post(bot, comment(2, comment__id=2), event="issue_comment", delivery="d-2")
        settle(bot)
        assert 2 not in [wo.issue_number for wo in work_orders(bot)]
        [(issue, said)] = refusals(writers)
        assert issue == 2
        assert f"{REPO} spent $12.40 of its $10.00 daily cap today (the day starts at midnight UTC)" in said


def test_the_global_daily_cap_counts_every_repository(tmp_path: Path, writers: FakeGitHub) -> None:
    for bot in capped_bot(tmp_path, writers, daily_usd_per_repo=10.0, daily_usd=20.0):
        spent(bot, "octo/elsewhere", 20.5, "wo-c")
        post(bot, comment(3, comment__id=3), event="issue_comment", delivery="d-3")
        settle(bot)
        assert 3 not in [wo.issue_number for wo in work_orders(bot)]
        [(_, said)] = refusals(writers)
        assert "the bot spent $20.50 of its $20.00 daily cap for all repositories today" in said
