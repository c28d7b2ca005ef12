"""The work order log's contract, on every backend (SQLite file, memory, Postgres): append, list after a cursor,
filters, and waiting for new entries (Postgres: woken by NOTIFY through one LISTEN connection per process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from bot.errors import NotFound
from bot.models import LogEntry, WorkOrder
from bot.store import Store
from bot.store.postgres import PostgresStore

from .conftest import open_backend

URL = "https://github.com/octo/repo"


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        for n in (1, 2):
            await backend.create_work_order(WorkOrder(agent_work_order_id=f"wo-{n}", repository_url=URL))
        yield backend


def entry(work_order_id: str = "wo-1", **fields: object) -> LogEntry:
    return LogEntry.model_validate({"agent_work_order_id": work_order_id, **fields})


async def test_entries_get_increasing_ids_and_come_back_in_order_with_their_fields(store: Store) -> None:
    first = await store.append_log(entry(step="plan", kind="step_started", message="plan started"))
    second = await store.append_log(entry(step="plan", kind="tool_use", message="Read README.md",
                                          data={"tool": "Read", "n": 1}))
    assert 0 < first.id < second.id
    listed = await store.list_logs("wo-1")
    assert [(e.id, e.step, e.kind, e.message, e.data) for e in listed] == [
        (first.id, "plan", "step_started", "plan started", {}),
        (second.id, "plan", "tool_use", "Read README.md", {"tool": "Read", "n": 1}),
    ]
    assert listed[1].at == second.at


async def test_a_cursor_a_limit_and_an_offset_page_through_one_work_orders_entries(store: Store) -> None:
    ids = [(await store.append_log(entry(message=f"m{n}"))).id for n in range(5)]
    await store.append_log(entry("wo-2", message="other"))
    assert [e.message for e in await store.list_logs("wo-1", after=ids[1])] == ["m2", "m3", "m4"]
    assert [e.message for e in await store.list_logs("wo-1", after=ids[1], limit=2)] == ["m2", "m3"]
    assert [e.message for e in await store.list_logs("wo-1", limit=2, offset=3)] == ["m3", "m4"]
    assert await store.list_logs("wo-1", after=ids[-1]) == []
    assert [e.message for e in await store.list_logs("wo-2")] == ["other"]


async def test_level_and_step_filters_keep_the_matching_entries(store: Store) -> None:
    await store.append_log(entry(step="plan", message="a"))
    await store.append_log(entry(step="implement", level="error", kind="error", message="b"))
    await store.append_log(entry(step="implement", message="c"))
    assert [e.message for e in await store.list_logs("wo-1", level="error")] == ["b"]
    assert [e.message for e in await store.list_logs("wo-1", step="implement")] == ["b", "c"]
    assert [e.message for e in await store.list_logs("wo-1", step="implement", level="info")] == ["c"]
    assert await store.count_logs("wo-1") == 3
    assert await store.count_logs("wo-1", step="implement") == 2
    assert await store.count_logs("wo-1", step="implement", level="error") == 1
    assert await store.count_logs("wo-2") == 0


async def test_an_entry_for_an_unknown_work_order_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.append_log(entry("wo-missing"))


async def test_entries_go_with_their_work_order(store: Store, tmp_path: Path, postgres_url: str) -> None:
    """Retention: deleting a work order (by hand, or a future prune) deletes its log, as it does its steps."""
    await store.append_log(entry())
    if isinstance(store, PostgresStore):
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("DELETE FROM archon_agent_work_orders WHERE agent_work_order_id = 'wo-1'")
    else:
        await store._run(lambda c: c.execute(  # type: ignore[attr-defined]
            "DELETE FROM archon_agent_work_orders WHERE agent_work_order_id = 'wo-1'"))
    assert await store.list_logs("wo-1") == []


async def test_waiting_returns_at_once_when_entries_after_the_cursor_exist(store: Store) -> None:
    stored = await store.append_log(entry())
    assert await store.wait_for_logs("wo-1", 0, timeout=5) is True
    started = time.monotonic()
    assert await store.wait_for_logs("wo-1", stored.id, timeout=0.3) is False
    assert time.monotonic() - started >= 0.25


async def test_a_waiter_wakes_soon_after_an_entry_of_its_work_order_only(store: Store) -> None:
    latest = (await store.append_log(entry(message="before"))).id
    waiting = asyncio.create_task(store.wait_for_logs("wo-1", latest, timeout=10))
    other = asyncio.create_task(store.wait_for_logs("wo-2", 0, timeout=1.0))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    started = time.monotonic()
    await store.append_log(entry(message="after"))
    assert await waiting is True
    assert time.monotonic() - started < 1.0
    assert await other is False


async def test_postgres_is_woken_by_a_row_another_process_inserts(postgres_url: str, tmp_path: Path) -> None:
    """The fleet's case: the worker is another machine; its insert's NOTIFY wakes this process's waiter, well
    before the 0.2 s a poll would take, through the one LISTEN connection shared by every waiter."""
    async with open_backend("postgres", tmp_path, postgres_url) as backend:
        assert isinstance(backend, PostgresStore)
        await backend.create_work_order(WorkOrder(agent_work_order_id="wo-x", repository_url=URL))
        await backend.wait_for_logs("wo-x", 0, timeout=0.5)  # starts the listener
        await asyncio.sleep(0.2)
        assert backend._logs.listening
        waiters = [asyncio.create_task(backend.wait_for_logs("wo-x", 0, timeout=10)) for _ in range(20)]
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("INSERT INTO archon_agent_work_order_logs (agent_work_order_id, message) "
                         "VALUES ('wo-x', 'from another process')")
        assert await asyncio.gather(*waiters) == [True] * 20
        assert time.monotonic() - started < 0.5
        assert [e.message for e in await backend.list_logs("wo-x")] == ["from another process"]
        listening = ("SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN agent_work_order_logs' "
                     "AND datname = current_database()")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute(listening).fetchone()
        assert row is not None and row[0] == 1
