"""The progress comment is edited at most once a second, off the work order's path; the latest state lands."""

from __future__ import annotations

import asyncio

from bot.models import Status, Step, WorkOrder
from bot.reporter import CommentReporter
from bot.testing import FakeGitHub


class CountingGitHub(FakeGitHub):
    def __init__(self) -> None:
        super().__init__()
        self.edits: list[str] = []

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        self.edits.append(body)


def order(**changes: object) -> WorkOrder:
    return WorkOrder(repository_url="x", repo_full_name="o/r", issue_number=1, progress_comment_id=5,
                     status=Status.RUNNING).model_copy(update=changes)


async def test_bursts_are_coalesced_and_the_last_one_lands() -> None:
    github = CountingGitHub()
    reporter = CommentReporter(github, (), min_interval=0.2)
    for n in range(10):
        await reporter.show(order(), [], running=f"step {n}")
    await asyncio.sleep(0.05)
    assert len(github.edits) == 1 and "step 9" in github.edits[0]
    for n in range(10, 20):
        await reporter.show(order(), [], running=f"step {n}")
    await asyncio.sleep(0.05)
    assert len(github.edits) == 1, "a second edit inside the interval"
    await asyncio.sleep(0.3)
    assert len(github.edits) == 2 and "step 19" in github.edits[1]


class SlowGitHub(CountingGitHub):
    """Progress edits take a while to land; the final one is quick, so it would overtake one sent before it."""

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        await asyncio.sleep(0 if "✅ Done" in body else 0.2)
        await super().update_comment(full_name, comment_id, body)


async def test_progress_never_waits_for_github_and_the_final_edit_lands_last() -> None:
    github = SlowGitHub()
    reporter = CommentReporter(github, (), min_interval=0)
    started = asyncio.get_running_loop().time()
    await reporter.show(order(), [], running="implement")
    assert asyncio.get_running_loop().time() - started < 0.1, "a progress edit held up the work order"
    await asyncio.sleep(0.05)  # the progress edit is on its way when the work order ends
    await reporter.show(order(status=Status.COMPLETED), [], final=True)
    assert len(github.edits) == 2 and "✅ Done" in github.edits[-1]


async def test_the_final_state_is_always_written_after_the_interval() -> None:
    github = CountingGitHub()
    reporter = CommentReporter(github, (), min_interval=0.2)
    await reporter.show(order(), [], running="plan")
    step = Step(agent_work_order_id="wo-1", step="plan", agent_name="Planner", success=True)
    await reporter.show(order(), [step], running="implement")
    await reporter.show(order(status=Status.COMPLETED), [step], final=True)
    edits = len(github.edits)
    assert edits >= 1 and "✅ Done" in github.edits[-1]
    await asyncio.sleep(0.3)
    assert len(github.edits) == edits, "held progress was written over the final state"


async def test_work_orders_without_a_comment_are_not_reported() -> None:
    github = CountingGitHub()
    await CommentReporter(github, ()).show(order(progress_comment_id=None), [], final=True)
    assert github.edits == []
