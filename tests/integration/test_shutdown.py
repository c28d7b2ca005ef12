"""A worker told to stop: running work orders get the grace period, then are handed back without using up an
attempt (real git, real SQLite; the agent is a fake that takes its time)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.agent import AgentRequest, AgentResult, ProgressHook
from bot.models import Status
from bot.runtime import Runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.integration.test_work_orders import configured, order, remote  # noqa: F401 - the fixture

GRACE = 0.3


@dataclass
class SlowAgent(FakeAgent):
    """Takes `seconds` per step; `started` is set once a step is under way."""

    seconds: float = 0.0
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, request: AgentRequest, on_progress: ProgressHook | None = None) -> AgentResult:
        self.started.set()
        await asyncio.sleep(self.seconds)
        return await super().run(request, on_progress)


async def stop_while_the_agent_runs(runtime: Runtime, agent: SlowAgent, *, hurry: bool = False) -> float:
    """Start the claim loop on one queued work order, stop it once the agent runs; seconds the stop took."""
    assert runtime.worker is not None
    stop = asyncio.Event()
    loop = asyncio.create_task(runtime.worker.run(stop))
    await asyncio.wait_for(agent.started.wait(), 30)
    began = time.monotonic()
    stop.set()
    if hurry:
        await asyncio.sleep(0.1)
        runtime.hurry()
    await asyncio.wait_for(loop, 30)
    return time.monotonic() - began


async def runtime_with(settings: Settings, remote: Path, agent: SlowAgent, grace: float) -> Runtime:  # noqa: F811
    settings = settings.model_copy(update={"shutdown_grace_seconds": grace})
    runtime = await configured(settings, remote, FakeGitHub(permissions={"Codertocat": "write"}), agent)
    assert runtime.worker is not None and runtime.worker.config.grace_seconds == grace
    return runtime


async def test_a_step_that_outlasts_the_grace_period_is_stopped_and_handed_back(
    settings: Settings, remote: Path,  # noqa: F811
) -> None:
    agent = SlowAgent(files={"hello.txt": "hello\n"}, seconds=60)
    runtime = await runtime_with(settings, remote, agent, GRACE)
    queued = await runtime.store.create_work_order(order(remote, "w"))
    took = await stop_while_the_agent_runs(runtime, agent)
    back = await runtime.store.get_work_order(queued.id)
    await runtime.store.close()
    assert took < GRACE + 2, f"the stop took {took:.1f} s with a {GRACE} s grace period"
    assert (back.status, back.lease_owner) == (Status.PENDING, None)
    assert (back.attempt, back.max_attempts) == (1, 4), "the graceful stop used up an attempt"


async def test_a_step_that_ends_within_the_grace_period_finishes_its_work_order(
    settings: Settings, remote: Path,  # noqa: F811
) -> None:
    agent = SlowAgent(files={"hello.txt": "hello\n"}, seconds=0.5)
    runtime = await runtime_with(settings, remote, agent, 30)
    queued = await runtime.store.create_work_order(order(remote, "w"))
    await stop_while_the_agent_runs(runtime, agent)
    done = await runtime.store.get_work_order(queued.id)
    await runtime.store.close()
    assert (done.status, done.attempt, done.error_message) == (Status.COMPLETED, 1, None)


async def test_a_second_signal_ends_the_grace_period(settings: Settings, remote: Path) -> None:  # noqa: F811
    agent = SlowAgent(files={"hello.txt": "hello\n"}, seconds=60)
    runtime = await runtime_with(settings, remote, agent, 60)
    queued = await runtime.store.create_work_order(order(remote, "w"))
    took = await stop_while_the_agent_runs(runtime, agent, hurry=True)
    back = await runtime.store.get_work_order(queued.id)
    await runtime.store.close()
    assert took < 5 and back.status is Status.PENDING
