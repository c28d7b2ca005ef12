"""The claim loop never sleeps through new work: a notify that arrives while a claim runs wakes it at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.checkout import Checkout
from bot.models import WorkOrder
from bot.pipeline import Services
from bot.testing import FakeAgent
from bot.worker import Worker, WorkerConfig

POLL = 30.0  # far longer than the test waits: only a notify can explain a prompt second claim


class QueueRacingStore:
    """A store whose first claim finds nothing while intake queues work (and notifies) during it."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.claims = 0
        self.second_claim = asyncio.Event()

    async def fail_exhausted(self) -> list[WorkOrder]:
        return []

    async def claim(self, worker_id: str, lease_seconds: float) -> WorkOrder | None:
        self.claims += 1
        if self.claims == 1:
            assert self.worker is not None
            self.worker.notify()  # the work order was committed just after this claim's query ran
        else:
            self.second_claim.set()
        return None

    async def wait_for_work(self, timeout: float) -> None:
        await asyncio.sleep(timeout)


async def test_a_notify_during_a_claim_that_found_nothing_claims_again_at_once(tmp_path: Path) -> None:
    store = QueueRacingStore()
    services = Services(store=store, checkout=Checkout(tmp_path, {}), agent=FakeAgent(), github=None)  # type: ignore[arg-type]
    worker = Worker(services, WorkerConfig(concurrency=1, poll_seconds=POLL))
    store.worker = worker
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(store.second_claim.wait(), timeout=2)
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
    assert store.claims >= 2
