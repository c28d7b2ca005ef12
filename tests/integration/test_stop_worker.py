"""A stop asked for through the store ends a running work order on the worker holding it within seconds,
`cancelled`, without leaving the agent running; a retry runs it again to the end (real git, real SQLite)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.commands import Outlet, cancel, retry
from bot.models import Status
from bot.settings import Settings
from tests.integration.test_shutdown import SlowAgent, runtime_with
from tests.integration.test_work_orders import order, remote  # noqa: F401 - the fixture


async def until(condition: object, timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if await condition():  # type: ignore[operator]
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


async def test_a_stop_request_ends_the_running_work_order_cancelled_and_a_retry_completes_it(
    settings: Settings, remote: Path,  # noqa: F811
) -> None:
    agent = SlowAgent(files={"hello.txt": "hello\n"}, seconds=60)
    runtime = await runtime_with(settings, remote, agent, 30)
    assert runtime.worker is not None
    queued = await runtime.store.create_work_order(order(remote, "w"))
    stop = asyncio.Event()
    loop = asyncio.create_task(runtime.worker.run(stop))
    try:
        await asyncio.wait_for(agent.started.wait(), 30)
        flagged = await cancel(runtime.store, Outlet(None), queued.id)
        assert flagged.status is Status.RUNNING

        async def ended() -> bool:
            return (await runtime.store.get_work_order(queued.id)).status is Status.CANCELLED

        took = await until(ended, 10)
        assert took < 3, f"the stop took {took:.1f} s"
        done = await runtime.store.get_work_order(queued.id)
        assert (done.lease_owner, done.error_message, done.attempt) == (None, "stopped on request", 1)
        agent.seconds, agent.started = 0.0, asyncio.Event()
        await retry(runtime.store, Outlet(None), queued.id, 3, runtime.worker.notify)

        async def completed() -> bool:
            return (await runtime.store.get_work_order(queued.id)).status is Status.COMPLETED

        await until(completed, 30)
        again = await runtime.store.get_work_order(queued.id)
        assert (again.attempt, again.error_message) == (2, None)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 30)
        await runtime.store.close()
