"""Costs per repository per UTC day, read from the spend ledger on every backend (the costs page and its API)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from bot.models import Step, WorkOrder, utcnow
from bot.store import DailySpend, Store
from bot.store.postgres import PostgresStore
from bot.store.rows import iso
from bot.store.sqlite import Q, SqliteStore, rollup_bounds

from .conftest import empty_tables, open_backend

NOV_29 = datetime(2026, 11, 29, tzinfo=UTC)
NOV_30 = datetime(2026, 11, 30, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
INSERT = ("INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, cost_usd, at) "
          "VALUES (%s, %s, %s, %s, %s)")


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        yield backend


async def spent(store: Store, postgres_url: str, *rows: tuple[str, str, float, datetime]) -> None:
    """Ledger rows (repository, work order, cost, when) at chosen times, as the steps' trigger writes them."""
    values = [(repo, wo, "implement", cost, at) for repo, wo, cost, at in rows]
    if isinstance(store, PostgresStore):
        with psycopg.connect(postgres_url, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.executemany(INSERT, values)
    else:
        assert isinstance(store, SqliteStore)
        text = [(*v[:4], iso(v[4].astimezone(UTC))) for v in values]  # the trigger's UTC text
        await store._run(lambda c: c.executemany(INSERT.replace("%s", "?"), text))


async def test_steps_and_work_orders_are_counted_per_repository_per_day(store: Store, postgres_url: str) -> None:
    await spent(store, postgres_url,
                ("octo/b", "wo-1", 0.25, NOV_30 + timedelta(hours=9)),
                ("octo/b", "wo-1", 0.125, NOV_30 + timedelta(hours=10)),
                ("octo/b", "wo-2", 0.05, NOV_30 + timedelta(hours=11)),
                ("octo/a", "wo-3", 1.0, NOV_30 + timedelta(hours=12)),
                ("octo/a", "wo-4", 2.0, NOV_29 + timedelta(hours=12)))
    assert await store.daily_spend(NOV_29, DEC_1) == [
        DailySpend(date(2026, 11, 30), "octo/a", 1.0, 1, 1),
        DailySpend(date(2026, 11, 30), "octo/b", 0.425, 3, 2),
        DailySpend(date(2026, 11, 29), "octo/a", 2.0, 1, 1),
    ]
    assert await store.daily_spend(NOV_29, DEC_1, "octo/a") == [
        DailySpend(date(2026, 11, 30), "octo/a", 1.0, 1, 1), DailySpend(date(2026, 11, 29), "octo/a", 2.0, 1, 1),
    ]
    assert await store.daily_spend(NOV_29, DEC_1, "octo/none") == []


async def test_days_are_utc_days_whatever_the_zone_of_the_times(store: Store, postgres_url: str) -> None:
    paris = timezone(timedelta(hours=1))
    await spent(store, postgres_url,
                ("octo/a", "wo-1", 1.0, NOV_30 - timedelta(microseconds=1)),  # the last moment of the 29th
                ("octo/a", "wo-2", 2.0, NOV_30),  # the first of the 30th
                ("octo/a", "wo-3", 4.0, datetime(2026, 11, 30, 0, 30, tzinfo=paris)))  # 23:30 UTC on the 29th
    days = await store.daily_spend(datetime(2026, 11, 29, 12, tzinfo=paris), DEC_1.astimezone(paris))
    assert [(d.day, d.cost_usd, d.work_orders) for d in days] == [(date(2026, 11, 30), 2.0, 1),
                                                                  (date(2026, 11, 29), 5.0, 2)]


async def test_the_range_includes_since_and_excludes_until(store: Store, postgres_url: str) -> None:
    await spent(store, postgres_url, ("octo/a", "wo-1", 1.0, NOV_29), ("octo/a", "wo-2", 2.0, NOV_30))
    assert [d.cost_usd for d in await store.daily_spend(NOV_29, NOV_30)] == [1.0]
    assert [d.cost_usd for d in await store.daily_spend(NOV_29.replace(tzinfo=None), NOV_30)] == [1.0]  # naive: UTC


async def test_a_recorded_step_shows_on_its_day(store: Store) -> None:
    await store.create_work_order(WorkOrder(agent_work_order_id="wo-1", repository_url="https://github.com/octo/a",
                                            repo_full_name="octo/a", issue_number=1))
    await store.add_step(Step(agent_work_order_id="wo-1", step="implement", agent_name="Implementor", success=True,
                              cost_usd=0.5, prompt="Fix the typo"))
    now = utcnow()
    assert await store.daily_spend(now - timedelta(days=30), now + timedelta(seconds=5)) == [
        DailySpend(now.date(), "octo/a", 0.5, 1, 1)]


async def test_a_range_of_more_than_366_days_or_backwards_is_refused(store: Store) -> None:
    assert await store.daily_spend(DEC_1 - timedelta(days=366), DEC_1) == []
    with pytest.raises(ValueError, match="366 days"):
        await store.daily_spend(DEC_1 - timedelta(days=366, microseconds=1), DEC_1)
    with pytest.raises(ValueError, match="after since"):
        await store.daily_spend(DEC_1, DEC_1)


def test_the_function_itself_refuses_a_range_over_a_year(postgres_url: str) -> None:
    """Supabase callers reach the function without the store's check: it checks too."""
    with psycopg.connect(postgres_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("SELECT * FROM archon_agent_work_order_daily_spend(%s, %s, NULL)",
                     (DEC_1 - timedelta(days=400), DEC_1))


def test_the_sqlite_days_read_the_rollup_and_ranges_of_an_index_for_partial_days() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(Q["schema"])
    conn.executescript(Q["spend_ledger"])
    conn.executescript(Q["spend_rollup"])
    bounds = {**rollup_bounds(NOV_29 - timedelta(days=30, hours=3), NOV_29 + timedelta(hours=5)), "repo": "octo/a"}
    for name, index in (("daily_spend_all", "idx_agent_work_order_spend_at"),
                        ("daily_spend_repo", "idx_agent_work_order_spend_repo_at")):
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + Q[name], bounds))
        assert plan.count(f"INDEX {index} (") == 2 and "<" in plan, plan
        assert "SEARCH archon_agent_work_order_spend_daily USING PRIMARY KEY (day>? AND day<?)" in plan, plan


def test_the_rollup_bounds_split_a_range_into_whole_and_partial_days() -> None:
    whole = rollup_bounds(NOV_29, DEC_1)
    assert (whole["first_day"], whole["last_day"]) == ("2026-11-29", "2026-12-01")
    assert whole["low_until"] == whole["since"] and whole["high_since"] == whole["until"]  # no partial day
    inside = rollup_bounds(NOV_29 + timedelta(hours=1), NOV_29 + timedelta(hours=2))
    assert inside["low_until"] == inside["until"] and inside["high_since"] > inside["until"]  # all from the ledger
    assert inside["first_day"] >= inside["last_day"]
    both = rollup_bounds(NOV_29 + timedelta(hours=1), DEC_1 + timedelta(hours=2))
    assert (both["first_day"], both["last_day"]) == ("2026-11-30", "2026-12-01")
    assert (both["low_until"], both["high_since"]) == (iso(NOV_30), iso(DEC_1))


def test_the_postgres_partial_days_read_a_range_of_an_index(postgres_url: str) -> None:
    """The function's ledger queries (migration 016: a partial day at either end of the range), planned on a week of
    50,000 rows: each is an index range (the whole days read the rollup, a row per day and repository)."""
    day = "SELECT (at AT TIME ZONE 'UTC')::date, repo_full_name, sum(cost_usd), count(*), count(DISTINCT " \
          "agent_work_order_id) FROM archon_agent_work_order_spend WHERE {repo} at >= now() - interval '7 days' " \
          "AND at < now() - interval '6 days' GROUP BY 1, 2 ORDER BY 1 DESC, 2"
    empty_tables(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, "
                     "cost_usd, at) SELECT 'octo/r' || (n % 50), 'wo-' || (n % 700), 'implement', 0.01, "
                     "now() - make_interval(secs => n * 120) FROM generate_series(1, 50000) AS n")
        conn.execute("ANALYZE archon_agent_work_order_spend")
        plans = ["\n".join(r[0] for r in conn.execute(f"EXPLAIN {day.format(repo=repo)}".encode()))
                 for repo in ("", "repo_full_name = 'octo/r7' AND")]
    empty_tables(postgres_url)
    for plan in plans:
        assert "Seq Scan" not in plan and "Index Cond: (" in plan and "at <" in plan, plan
        assert "idx_agent_work_order_spend_at" in plan or "idx_agent_work_order_spend_repo_at" in plan, plan
