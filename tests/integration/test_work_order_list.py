"""The work-order list pages and filters, and the claim's rules with long queues, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.models import Status, WorkOrder
from bot.store import Cursor, ListFilter, Store

from .conftest import open_backend

BASE = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        yield backend


def order(n: int, second: int | None = None, **fields: Any) -> WorkOrder:
    """Work order n, created `second` (default n) seconds after BASE; on repo-(n % 2), issue n % 3 + 1."""
    at = BASE + timedelta(seconds=n if second is None else second)
    values: dict[str, Any] = {
        "agent_work_order_id": f"wo-{n:04d}", "repository_url": f"https://github.com/octo/repo-{n % 2}",
        "repo_full_name": f"octo/repo-{n % 2}", "issue_number": n % 3 + 1, "created_at": at, "updated_at": at,
    }
    return WorkOrder(**{**values, **fields})


async def create(store: Store, *orders: WorkOrder) -> None:
    for work_order in orders:
        await store.create_work_order(work_order)


def ids(orders: list[WorkOrder]) -> list[str]:
    return [w.id for w in orders]


async def test_cursor_pages_show_every_row_once_while_work_orders_arrive(store: Store) -> None:
    # three at a time share a created_at: the id breaks the tie, so a page may end inside a group
    await create(store, *(order(n, second=n // 3) for n in range(20)))
    expected = ids(sorted((order(n, second=n // 3) for n in range(20)),
                          key=lambda w: (w.created_at, w.id), reverse=True))
    seen: list[str] = []
    page = await store.list_work_orders(limit=4)
    for arriving in range(100, 110):  # 5 pages and an empty one; more means the cursor does not advance
        if not page:
            break
        seen += ids(page)
        await create(store, order(arriving, second=1000 + arriving))  # newer than anything listed so far
        page = await store.list_work_orders(limit=4, cursor=Cursor.after(page[-1]))
    assert seen == expected


async def test_offset_pages_are_slices_of_the_whole_list(store: Store) -> None:
    await create(store, *(order(n, second=n // 2) for n in range(12)))
    whole = ids(await store.list_work_orders(limit=100))
    assert len(whole) == 12
    assert ids(await store.list_work_orders(limit=5, offset=5)) == whole[5:10]
    assert ids(await store.list_work_orders(limit=5, offset=10)) == whole[10:]
    assert await store.list_work_orders(limit=5, offset=12) == []
    after = Cursor.after((await store.list_work_orders(limit=3))[-1])
    assert ids(await store.list_work_orders(limit=2, offset=1, cursor=after)) == whole[4:6]


async def test_each_filter_narrows_the_list_and_the_cursor_pages_within_it(store: Store) -> None:
    await create(store, *(order(n, status=Status.COMPLETED if n % 4 == 0 else Status.PENDING) for n in range(24)))
    everything = await store.list_work_orders(limit=100)

    def matching(test: Any) -> list[str]:
        return [w.id for w in everything if test(w)]

    cases: list[tuple[Status | None, ListFilter, Any]] = [
        (Status.COMPLETED, ListFilter(), lambda w: w.status is Status.COMPLETED),
        (None, ListFilter(repo_full_name="octo/repo-1"), lambda w: w.repo_full_name == "octo/repo-1"),
        (None, ListFilter(repo_full_name="octo/repo-0", issue_number=2),
         lambda w: w.repo_full_name == "octo/repo-0" and w.issue_number == 2),
        (None, ListFilter(since=BASE + timedelta(seconds=5), until=BASE + timedelta(seconds=9)),
         lambda w: 5 <= (w.created_at - BASE).total_seconds() < 9),
        (Status.PENDING, ListFilter(repo_full_name="octo/repo-1", since=BASE + timedelta(seconds=10)),
         lambda w: w.status is Status.PENDING and w.repo_full_name == "octo/repo-1"
         and w.created_at >= BASE + timedelta(seconds=10)),
    ]
    for status, where, test in cases:
        expected = matching(test)
        assert expected, where
        assert ids(await store.list_work_orders(status, where=where)) == expected, where
        first = await store.list_work_orders(status, limit=1, where=where)
        rest = await store.list_work_orders(status, where=where, cursor=Cursor.after(first[0]))
        assert ids(first + rest) == expected, where
    assert await store.list_work_orders(where=ListFilter(repo_full_name="octo/none")) == []


async def test_a_time_in_another_zone_bounds_the_same_instant(store: Store) -> None:
    await create(store, *(order(n) for n in range(6)))
    since = (BASE + timedelta(seconds=2)).astimezone(timezone(timedelta(hours=2)))
    until = (BASE + timedelta(seconds=5)).astimezone(timezone(timedelta(hours=-5)))
    listed = await store.list_work_orders(where=ListFilter(since=since, until=until))
    assert ids(listed) == ["wo-0004", "wo-0003", "wo-0002"]


# the claim's rules, with queues longer than one issue


async def test_a_live_lease_blocks_its_issue_even_for_an_older_work_order(store: Store) -> None:
    """A work order queued (or retried) with an older created_at must not run beside its issue's running one."""
    await create(store, order(2, issue_number=7, repo_full_name="octo/repo"))
    running = await store.claim("w1", 60)
    assert running is not None and running.id == "wo-0002"
    await create(store, order(1, issue_number=7, repo_full_name="octo/repo"))
    assert await store.claim("w2", 60) is None
    await store.finish("wo-0002", "w1", Status.COMPLETED, {})
    older = await store.claim("w2", 60)
    assert older is not None and older.id == "wo-0001"


async def test_a_claim_passes_a_blocked_issue_queue_to_the_next_issue(store: Store) -> None:
    await create(store, *(order(n, issue_number=7, repo_full_name="octo/repo") for n in range(1, 30)))
    await create(store, order(40, issue_number=8, repo_full_name="octo/repo"),
                 order(41, issue_number=8, repo_full_name="octo/other"))
    first = await store.claim("w1", 60)
    assert first is not None and first.id == "wo-0001"
    claimed = [await store.claim(f"w{n}", 60) for n in (2, 3, 4)]
    assert [w and w.id for w in claimed] == ["wo-0040", "wo-0041", None]
