"""The spend ledger on every backend: a step that records a cost is a row of it, summed since a time."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.models import Step, WorkOrder, utcnow
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import Q, SqliteStore

from .conftest import empty_tables, open_backend


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        yield backend


async def work_order(store: Store, wo_id: str, repo: str) -> None:
    await store.create_work_order(WorkOrder(agent_work_order_id=wo_id, repository_url=f"https://github.com/{repo}",
                                            repo_full_name=repo, issue_number=1))


async def step(store: Store, wo_id: str, name: str, cost: float | None, order: int = 1) -> None:
    await store.add_step(Step(agent_work_order_id=wo_id, step=name, agent_name="Implementor", success=True,
                              duration_seconds=1.0, executed_at=utcnow(), step_order=order, cost_usd=cost))


async def test_costs_are_summed_per_repository_and_for_all(store: Store) -> None:
    before = utcnow() - timedelta(seconds=1)
    await work_order(store, "wo-a", "octo/a")
    await work_order(store, "wo-b", "octo/b")
    await step(store, "wo-a", "plan", 0.25)
    await step(store, "wo-a", "implement", 1.5, 2)
    await step(store, "wo-a", "commit", None, 3)  # no cost: no row
    await step(store, "wo-b", "implement", 4.0)
    assert await store.spent_since("octo/a", before) == pytest.approx(1.75)
    assert await store.spent_since("octo/b", before) == pytest.approx(4.0)
    assert await store.spent_since("octo/c", before) == 0
    assert await store.spent_since(None, before) == pytest.approx(5.75)


async def test_what_was_spent_before_the_time_is_not_counted(store: Store) -> None:
    await work_order(store, "wo-a", "octo/a")
    await step(store, "wo-a", "implement", 2.0)
    later = utcnow() + timedelta(seconds=1)
    assert await store.spent_since("octo/a", later) == 0 and await store.spent_since(None, later) == 0
    assert await store.spent_since("octo/a", datetime(2000, 1, 1, tzinfo=UTC)) == pytest.approx(2.0)


async def test_a_deleted_work_order_still_counts_today(store: Store, postgres_url: str, tmp_path: Path) -> None:
    """Retention (or a hand) deleting a work order and its steps must not reset the day's spend."""
    since = utcnow() - timedelta(seconds=1)
    await work_order(store, "wo-a", "octo/a")
    await step(store, "wo-a", "implement", 3.0)
    delete = "DELETE FROM archon_agent_work_orders"
    if isinstance(store, PostgresStore):
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(delete)
    else:
        assert isinstance(store, SqliteStore)
        await store._run(lambda c: c.execute(delete))
    assert await store.list_steps("wo-a") == []
    assert await store.spent_since("octo/a", since) == pytest.approx(3.0)


def test_the_sqlite_sum_for_a_repository_reads_only_its_index(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(Q["schema"])
    conn.executescript(Q["spend_ledger"])
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + Q["spent_since_repo"],
                                               {"repo": "octo/a", "since": "2026-01-01"}))
    assert "COVERING INDEX idx_agent_work_order_spend_repo_at" in plan, plan
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + Q["spent_since_all"], {"since": "2026"}))
    assert "COVERING INDEX idx_agent_work_order_spend_at" in plan, plan


def test_the_postgres_sum_for_a_repository_uses_its_index(postgres_url: str) -> None:
    empty_tables(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, "
                     "cost_usd, at) SELECT 'octo/r' || (n % 50), 'wo', 'implement', 0.01, "
                     "now() - make_interval(secs => n * 3) FROM generate_series(1, 20000) AS n")
        conn.execute("ANALYZE archon_agent_work_order_spend")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT coalesce(sum(cost_usd), 0) FROM archon_agent_work_order_spend "
            "WHERE repo_full_name = 'octo/r7' AND at >= now() - interval '1 day'"))
    empty_tables(postgres_url)
    assert "idx_agent_work_order_spend_repo_at" in plan, plan
