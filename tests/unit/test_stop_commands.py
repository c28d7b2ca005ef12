"""Stop and retry as commands: routed apart from requests, dispatched by intake, never an agent run."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.control import RETRY, STOP, UNLABELED, command_in
from bot.intake import Intake
from bot.models import Delivery, Ignored, Repository, Status, Trigger, WorkOrder
from bot.stopping import finishing, stopped_on_request, watch_stops
from bot.store import ListFilter
from bot.store.sqlite import SqliteStore
from bot.testing import FakeGitHub
from bot.triggers import TriggerRules, never_a_trigger, route
from tests.payloads import example

RULES = TriggerRules(phrase="@claude", label="claude")
REPO = "Codertocat/Hello-World"
IDS = itertools.count(1)


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("@claude stop", STOP), ("@claude cancel.", STOP), ("@Claude STOP!", STOP), ("@claude retry please", RETRY),
        ("@claude, retry", RETRY), ("@claude stopwatch the build", None), ("@claude please stop the leak", None),
        ("@claude fix the typo", None),
    ],
)
def test_a_comment_starting_with_a_command_word_is_that_command(body: str, command: str | None) -> None:
    routed = route("issue_comment", example("issue_comment", "created", comment__body=body), RULES)
    assert isinstance(routed, Trigger) and routed.command == command


def test_a_review_comment_can_say_stop_too() -> None:
    payload = example("pull_request_review_comment", "created", comment__body="@claude stop")
    routed = route("pull_request_review_comment", payload, RULES)
    assert isinstance(routed, Trigger) and routed.command == STOP


def test_an_issue_opened_with_a_command_word_is_a_request_not_a_command() -> None:
    routed = route("issues", example("issues", "opened", issue__body="@claude stop the spam bot"), RULES)
    assert isinstance(routed, Trigger) and routed.command is None and routed.request == "stop the spam bot"


@pytest.mark.parametrize("event", ["issues", "pull_request"])
def test_removing_the_trigger_label_is_a_command_and_another_label_is_ignored(event: str) -> None:
    removed = example(event, "unlabeled", label__name="Claude")
    routed = route(event, removed, RULES)
    assert isinstance(routed, Trigger) and routed.command == UNLABELED
    assert never_a_trigger(event, removed, RULES) is None
    other = example(event, "unlabeled", label__name="bug")
    assert isinstance(route(event, other, RULES), Ignored)
    assert isinstance(never_a_trigger(event, other, RULES), Ignored)


def test_command_words_are_only_the_first_word() -> None:
    assert [command_in(t) for t in ("", "  ", "retry", "Cancel:", "re try")] == [None, None, RETRY, STOP, None]


# intake


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    backend = SqliteStore(":memory:")
    await backend.open()
    await backend.add_repository(Repository(repository_url=f"https://github.com/{REPO}"))
    yield backend
    await backend.close()


@pytest.fixture
def github() -> FakeGitHub:
    return FakeGitHub(permissions={"Codertocat": "write", "reader": "read"})


def comment(body: str, issue: int = 1, sender: str = "Codertocat") -> Delivery:
    payload = example("issue_comment", "created", comment__body=body, issue__number=issue, sender__login=sender,
                      comment__id=900 + next(IDS))
    return Delivery(delivery_id=f"d-{next(IDS)}", event="issue_comment", action="created", payload=payload)


async def queued(store: SqliteStore, github: FakeGitHub, issue: int = 1, status: Status = Status.PENDING,
                 **fields: Any) -> WorkOrder:
    """A work order as intake leaves one: with its queued comment on the issue."""
    comment_id = await github.create_comment(REPO, issue, "queued")
    work_order = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=issue,
                           user_request="fix it", progress_comment_id=comment_id, delivery_id=f"q-{next(IDS)}",
                           **fields)
    await store.create_work_order(work_order)
    if status is Status.RUNNING:
        claimed = await store.claim("w1", 60)
        assert claimed is not None and claimed.id == work_order.id
    return await store.get_work_order(work_order.id)


def intake(store: SqliteStore, github: FakeGitHub, woken: list[int] | None = None) -> Intake:
    told = woken if woken is not None else []
    return Intake(store, github, RULES, max_attempts=3, on_queued=lambda: told.append(1))


async def everything(store: SqliteStore) -> list[WorkOrder]:
    return await store.list_work_orders(None, 100, where=ListFilter(REPO, 1))


async def test_stop_cancels_the_waiting_one_edits_its_comment_and_starts_nothing(
    store: SqliteStore, github: FakeGitHub,
) -> None:
    waiting = await queued(store, github)
    delivery = comment("@claude stop")
    outcome = await intake(store, github).process(delivery)
    assert outcome == f"stopped {waiting.id}"
    [only] = await everything(store)
    assert (only.id, only.status, only.report_pending) == (waiting.id, Status.CANCELLED, False)
    assert github.comments[waiting.progress_comment_id or 0][2].count("⏹️ Cancelled") == 1
    assert (REPO, 1, delivery.payload["comment"]["id"], "+1") in github.reactions
    assert not any(r[3] == "eyes" for r in github.reactions), "a command was acknowledged as a request"


async def test_stop_flags_a_running_one_for_its_worker(store: SqliteStore, github: FakeGitHub) -> None:
    running = await queued(store, github, status=Status.RUNNING)
    assert await intake(store, github).process(comment("@claude cancel")) == f"stopped {running.id}"
    assert await store.cancel_requests([running.id]) == [running.id]
    assert (await store.get_work_order(running.id)).status is Status.RUNNING  # its worker ends it


async def test_a_reader_cannot_stop_anything(store: SqliteStore, github: FakeGitHub) -> None:
    waiting = await queued(store, github)
    outcome = await intake(store, github).process(comment("@claude stop", sender="reader"))
    assert outcome.startswith("refused: reader has 'read' permission")
    assert (await store.get_work_order(waiting.id)).status is Status.PENDING


async def test_stop_with_nothing_to_stop_says_so_and_queues_nothing(store: SqliteStore, github: FakeGitHub) -> None:
    outcome = await intake(store, github).process(comment("@claude stop"))
    assert outcome == "ignored: nothing to stop"
    assert await everything(store) == []
    assert any("nothing was stopped" in body for _, _, body in github.comments.values())


async def test_retry_queues_the_last_failed_one_again_as_the_same_row(store: SqliteStore, github: FakeGitHub) -> None:
    failed = await queued(store, github, status=Status.RUNNING, git_branch_name="claude/issue-1-x")
    await store.finish(failed.id, "w1", Status.FAILED, {"error_message": "boom"})
    woken: list[int] = []
    outcome = await intake(store, github, woken).process(comment("@claude retry"))
    assert outcome == f"retried {failed.id}"
    [only] = await everything(store)
    assert (only.id, only.status, only.git_branch_name, only.error_message) == (
        failed.id, Status.PENDING, "claude/issue-1-x", None)
    assert woken, "the worker was not told new work waits"
    assert "⏹️" not in github.comments[failed.progress_comment_id or 0][2]


async def test_retry_while_one_is_active_or_with_none_ended_queues_nothing(
    store: SqliteStore, github: FakeGitHub,
) -> None:
    assert await intake(store, github).process(comment("@claude retry")) == "ignored: nothing to retry"
    waiting = await queued(store, github)
    assert await intake(store, github).process(comment("@claude retry")) == f"ignored: {waiting.id} is still pending"
    assert [w.id for w in await everything(store)] == [waiting.id]


async def test_removing_the_label_cancels_a_waiting_one_but_not_a_running_one(
    store: SqliteStore, github: FakeGitHub,
) -> None:
    running = await queued(store, github, status=Status.RUNNING)
    waiting = await queued(store, github)
    payload = example("issues", "unlabeled", label__name="claude", issue__number=1)
    delivery = Delivery(delivery_id="d-unlabel", event="issues", action="unlabeled", payload=payload)
    assert await intake(store, github).process(delivery) == f"stopped {waiting.id}"
    assert (await store.get_work_order(waiting.id)).status is Status.CANCELLED
    assert (await store.get_work_order(running.id)).status is Status.RUNNING
    assert await store.cancel_requests([running.id]) == []


# the worker's watch


async def test_the_watch_cancels_only_flagged_running_tasks_and_forgets_ended_ones(store: SqliteStore) -> None:
    github = FakeGitHub()
    flagged = await queued(store, github, status=Status.RUNNING)
    other = await queued(store, github, issue=2, status=Status.RUNNING)
    await store.cancel_work_order(flagged.id)
    tasks = {asyncio.create_task(asyncio.sleep(60), name=w.id) for w in (flagged, other)}
    ended = asyncio.create_task(asyncio.sleep(0), name=flagged.id)  # an earlier run of the same work order
    await ended
    stopping: set[asyncio.Task[Any]] = {ended}
    watch = asyncio.create_task(watch_stops(store, lambda: tasks, stopping, every=0.01))
    try:
        await asyncio.wait(tasks, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    assert {t.get_name() for t in tasks if t.cancelled()} == {flagged.id}
    assert {t.get_name() for t in stopping} == {flagged.id} and ended not in stopping
    for task in tasks:
        task.cancel()


async def test_a_stopped_task_is_never_cancelled_again_while_it_writes_its_final_report(store: SqliteStore) -> None:
    """The row says running and flagged until the task finishes it: a second cancel would kill that finish."""
    flagged = await queued(store, FakeGitHub(), status=Status.RUNNING)
    await store.cancel_work_order(flagged.id)
    stopping: set[asyncio.Task[Any]] = set()
    seen: list[str] = []

    async def work_order() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("stopped" if stopped_on_request(stopping) else "shut down")
        try:
            await asyncio.sleep(0.3)  # finishing: the report, then the row
        except asyncio.CancelledError:
            seen.append("cancelled again")
            raise

    task = asyncio.create_task(work_order(), name=flagged.id)
    watch = asyncio.create_task(watch_stops(store, lambda: {task}, stopping, every=0.01))
    try:
        await asyncio.wait({task}, timeout=5)
    finally:
        watch.cancel()
    assert seen == ["stopped"] and not task.cancelled()


async def test_a_stop_asked_for_while_the_work_order_finishes_does_not_cut_its_report_off(store: SqliteStore) -> None:
    running = await queued(store, FakeGitHub(), status=Status.RUNNING)
    stopping: set[asyncio.Task[Any]] = set()
    flagged = asyncio.Event()

    async def work_order() -> str:
        finishing(stopping)  # the agent is done: the final report and the row are being written
        await flagged.wait()
        await asyncio.sleep(0.2)
        return "finished"

    task = asyncio.create_task(work_order(), name=running.id)
    watch = asyncio.create_task(watch_stops(store, lambda: {task}, stopping, every=0.01))
    await store.cancel_work_order(running.id)
    flagged.set()
    try:
        assert await asyncio.wait_for(task, 5) == "finished"
    finally:
        watch.cancel()
