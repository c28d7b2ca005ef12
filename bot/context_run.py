"""A work order's pull-request context, read from GitHub from the claim on (while the mirror fetches and the
checkout is made), and awaited by the first agent step that needs it."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TypeVar

from bot.context import PullContext, pull_request_context
from bot.github import GitHubPort, PullRequest
from bot.models import ReviewLocation, WorkOrder

log = logging.getLogger(__name__)
T = TypeVar("T")


def is_on_pull_request(work_order: WorkOrder) -> bool:
    """Asked for on a pull request: the work order goes on on that PR's own branch."""
    return isinstance(work_order.metadata.get("pull_request"), int)


def on_pull_request(work_order: WorkOrder) -> str | None:
    """For a work order asked for on a pull request: the PR's base branch (its agent configuration is pinned to
    it); None for any other."""
    meta = work_order.metadata
    if not isinstance(meta.get("pull_request"), int):
        return None
    return str(meta.get("base_branch") or meta.get("default_branch") or "") or None


def read_pull_request(github: GitHubPort, work_order: WorkOrder) -> asyncio.Task[PullRequest] | None:
    """The PR a work order was asked for on, being read in the background (one read for the claim's check and the
    context); None for a work order not made on a pull request."""
    number = work_order.metadata.get("pull_request")
    if not isinstance(number, int):
        return None
    return _quiet(asyncio.create_task(github.get_pull_request(work_order.repo_full_name, number)))


def start_reading(
    github: GitHubPort, work_order: WorkOrder, budget: int, pull_read: asyncio.Task[PullRequest] | None = None,
) -> asyncio.Task[PullContext] | None:
    """The PR's context, being read in the background; None for a work order not made on a pull request."""
    number = work_order.metadata.get("pull_request")
    if not isinstance(number, int):
        return None
    return _quiet(asyncio.create_task(_read(github, work_order, number, budget, pull_read)))


def _quiet(task: asyncio.Task[T]) -> asyncio.Task[T]:
    """A failure is for whoever awaits the task to say (the agent step, the claim's check), not "never retrieved"."""
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task


async def read_context(reading: asyncio.Task[PullContext] | None) -> str:
    """The prompt's context section ("" without a pull request); GitHub's failure is raised as itself."""
    return "" if reading is None else (await reading).text


async def _read(
    github: GitHubPort, work_order: WorkOrder, number: int, budget: int, pull_read: asyncio.Task[PullRequest] | None,
) -> PullContext:
    started = time.monotonic()
    meta = work_order.metadata
    reply_to = meta.get("reply_to")
    reply_to = reply_to if isinstance(reply_to, dict) else {}
    location = meta.get("review_location")
    context = await pull_request_context(
        github, work_order.repo_full_name, number, asked_at=asked_at(work_order),
        thread_of=reply_to.get("thread") if isinstance(reply_to.get("thread"), int) else None,
        review_location=ReviewLocation.model_validate(location) if isinstance(location, dict) else None,
        budget=budget, pull_read=pull_read,
    )
    log.info("work order %s: read #%d's context in %.0f ms with %d GitHub calls: %d items, %d hidden, %d edited "
             "since the request left out, %d later, %d over the budget", work_order.id, number,
             (time.monotonic() - started) * 1000, context.calls, context.included, context.minimized,
             context.edited_left_out, context.after_request, context.over_budget)
    return context


def asked_at(work_order: WorkOrder) -> datetime | None:
    """When the request was made on GitHub: the conversation is taken as it was then."""
    value = work_order.metadata.get("asked_at")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
