"""The spend ledger's rollup per UTC day and repository (migration 016 and SQLite's spend_rollup): it always equals
the ledger's own aggregate, whether it was kept row by row or filled from a ledger that existed before it."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.migrate import MIGRATIONS_DIR, apply_migrations, migration_files
from bot.models import Step, WorkOrder, utcnow
from bot.store import DailySpend, Store
from bot.store.postgres import PostgresStore
from bot.store.rows import iso
from bot.store.sqlite import Q, SqliteStore

from .conftest import empty_tables, fresh_database, open_backend

DAY_1 = datetime(2025, 3, 29, tzinfo=UTC)  # far from today, when the ordinary steps are recorded
LEDGER = "archon_agent_work_order_spend (repo_full_name, agent_work_order_id, step, cost_usd, at)"
ROLLUP_016 = MIGRATIONS_DIR / "016_daily_spend_rollup.sql"
Row = tuple[str, str, str, float, datetime]  # repository, work order, step, cost, when


def mixed_workload(seed: int) -> list[Row]:
    """Several work orders with several steps each over two days and two repositories, interleaved as workers
    write them; one work order runs across midnight, and each repository has a day of one work order only."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for n in range(8):
        repo = f"octo/{'ab'[n % 2]}"
        start = DAY_1 + timedelta(hours=20 + n % 5, minutes=7 * n)  # some on the 29th, some on the 30th
        for k in range(2 + n % 3):
            rows.append((repo, f"wo-{n}", f"step-{k}", rng.choice((0.1, 0.25, 1.0 / 3, 2.5)),
                         start + timedelta(minutes=37 * k)))
    rows.append(("octo/a", "wo-late", "plan", 0.5, DAY_1 + timedelta(days=1, hours=23, minutes=59)))
    rows.append(("octo/b", "wo-early", "plan", 0.75, DAY_1 + timedelta(minutes=1)))
    rng.shuffle(rows)  # the work orders' steps interleave (seed < 0: one work order after the other)
    return sorted(rows, key=lambda r: (r[1], r[4])) if seed < 0 else _keep_each_order(rows)


def _keep_each_order(rows: list[Row]) -> list[Row]:
    """The shuffled interleaving, with each work order's steps in their time order (one worker writes them)."""
    mine: dict[str, list[Row]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r[4]):
        mine[row[1]].append(row)
    return [mine[row[1]].pop(0) for row in rows]


def expected(rows: list[Row], since: datetime, until: datetime, repo: str | None = None) -> list[DailySpend]:
    """What the ledger says, computed here: the old daily_spend (every ledger row of the range aggregated)."""
    days: dict[tuple[date, str], list[Row]] = defaultdict(list)
    for row in rows:
        if since <= row[4] < until and repo in (None, row[0]):
            days[(row[4].astimezone(UTC).date(), row[0])].append(row)
    return [DailySpend(day, name, round(sum(r[3] for r in found), 6), len(found), len({r[1] for r in found}))
            for (day, name), found in sorted(days.items(), key=lambda kv: (-kv[0][0].toordinal(), kv[0][1]))]


async def write_ledger(store: Store, postgres_url: str, rows: list[Row]) -> None:
    """Ledger rows one at a time, as the steps' trigger writes them."""
    if isinstance(store, PostgresStore):
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for row in rows:
                conn.execute(f"INSERT INTO {LEDGER} VALUES (%s, %s, %s, %s, %s)".encode(), row)
    else:
        assert isinstance(store, SqliteStore)
        text = [(*r[:4], iso(r[4].astimezone(UTC))) for r in rows]
        await store._run(lambda c: [c.execute(f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?)", r) for r in text])


ROLLUP = {
    "sqlite": ("SELECT day, repo_full_name, cost_usd, steps, work_orders FROM archon_agent_work_order_spend_daily",
               "SELECT substr(at, 1, 10), repo_full_name, sum(cost_usd), count(*), count(DISTINCT "
               "agent_work_order_id) FROM archon_agent_work_order_spend GROUP BY 1, 2"),
    "postgres": ("SELECT day::text, repo_full_name, cost_usd, steps, work_orders "
                 "FROM archon_agent_work_order_spend_daily",
                 "SELECT (at AT TIME ZONE 'UTC')::date::text, repo_full_name, sum(cost_usd), count(*), count(DISTINCT "
                 "agent_work_order_id) FROM archon_agent_work_order_spend GROUP BY 1, 2"),
}


def _rounded(rows: list[Any]) -> list[tuple[str, str, float, int, int]]:
    return sorted((str(r[0]), str(r[1]), round(float(r[2]), 6), int(r[3]), int(r[4])) for r in rows)


def postgres_rollup_and_ledger(url: str) -> tuple[list[Any], list[Any]]:
    """The rollup's rows and the ledger's own aggregate, in the same shape."""
    rollup, ledger = ROLLUP["postgres"]
    with psycopg.connect(url, autocommit=True) as conn:
        return _rounded(conn.execute(rollup.encode()).fetchall()), _rounded(conn.execute(ledger.encode()).fetchall())


def sqlite_rollup_and_ledger(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
    rollup, ledger = ROLLUP["sqlite"]
    return _rounded(conn.execute(rollup).fetchall()), _rounded(conn.execute(ledger).fetchall())


async def rollup_and_ledger(store: Store, postgres_url: str) -> tuple[list[Any], list[Any]]:
    if isinstance(store, PostgresStore):
        return postgres_rollup_and_ledger(postgres_url)
    assert isinstance(store, SqliteStore)
    return await store._run(sqlite_rollup_and_ledger)


@pytest.fixture(params=["sqlite", "memory", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    async with open_backend(request.param, tmp_path, postgres_url) as backend:
        yield backend


@pytest.mark.parametrize("seed", [1, 2, -1])
async def test_the_rollup_equals_the_ledger_after_a_mixed_workload(store: Store, postgres_url: str,
                                                                    seed: int) -> None:
    rows = mixed_workload(seed)
    await write_ledger(store, postgres_url, rows)
    for n in range(3):  # and steps recorded the ordinary way, today, through the steps' trigger
        await store.create_work_order(WorkOrder(agent_work_order_id=f"wo-now-{n}", repository_url="https://x/o/c",
                                                repo_full_name="octo/c", issue_number=n + 1))
        for step in ("plan", "implement"):
            await store.add_step(Step(agent_work_order_id=f"wo-now-{n}", step=step, agent_name="Implementor",
                                      success=True, cost_usd=0.2))
    rollup, ledger = await rollup_and_ledger(store, postgres_url)
    assert rollup == ledger
    assert {(day, repo) for day, repo, *_ in rollup} >= {("2025-03-29", "octo/a"), ("2025-03-30", "octo/b")}
    for since, until in ((DAY_1, DAY_1 + timedelta(days=2)),  # whole days: the rollup alone
                         (DAY_1 + timedelta(hours=21), DAY_1 + timedelta(days=1, hours=22)),  # two partial days
                         (DAY_1 + timedelta(hours=20), DAY_1 + timedelta(hours=23)),  # inside one day
                         (DAY_1 - timedelta(days=1, hours=3), DAY_1 + timedelta(days=2, seconds=1))):
        for repo in (None, "octo/a"):
            assert await store.daily_spend(since, until, repo) == expected(rows, since, until, repo), (since, until)
    now = utcnow()
    [today] = await store.daily_spend(now - timedelta(days=1), now + timedelta(seconds=5), "octo/c")
    assert (today.cost_usd, today.steps, today.work_orders) == (1.2, 6, 3)


def test_postgres_work_orders_on_one_day_written_at_once_add_up(postgres_url: str) -> None:
    """Eight workers, each its own work orders' steps on the same day and repository, concurrently: the UPSERT
    adds every step and counts every work order once."""
    empty_tables(postgres_url)
    at = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

    def worker(n: int) -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for w in range(5):
                for k in range(4):
                    conn.execute(f"INSERT INTO {LEDGER} VALUES (%s, %s, %s, %s, %s)".encode(),
                                 ("octo/a", f"wo-{n}-{w}", f"s{k}", 0.125, at + timedelta(seconds=k)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rollup, ledger = postgres_rollup_and_ledger(postgres_url)
    empty_tables(postgres_url)
    assert rollup == ledger == [(at.date().isoformat(), "octo/a", 20.0, 160, 40)]


def write_old_sqlite_file(path: Path, rows: list[Row]) -> None:
    """A file made before the rollup existed: its schema and ledger, nothing else."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(Q["schema"])
    conn.executescript(Q["spend_ledger"])
    conn.executemany(f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?)", [(*r[:4], iso(r[4])) for r in rows])
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%spend_daily%'").fetchone() == (0,)
    conn.close()


async def test_an_existing_sqlite_ledger_is_rolled_up_when_the_store_opens(tmp_path: Path) -> None:
    rows = mixed_workload(3)
    path = tmp_path / "old.db"
    write_old_sqlite_file(path, rows[:-4])
    store = SqliteStore(path)
    await store.open()
    try:
        rollup, ledger = await store._run(sqlite_rollup_and_ledger)
        assert rollup == ledger and rollup
        await write_ledger(store, "", rows[-4:])  # kept by the trigger from now on
        assert await store.daily_spend(DAY_1, DAY_1 + timedelta(days=2)) == expected(
            rows, DAY_1, DAY_1 + timedelta(days=2))
    finally:
        await store.close()
    again = SqliteStore(path)  # reopened: already rolled up, nothing counted twice
    await again.open()
    try:
        rollup, ledger = await again._run(sqlite_rollup_and_ledger)
        assert rollup == ledger
    finally:
        await again.close()


def test_an_existing_postgres_ledger_is_rolled_up_by_the_migration() -> None:
    rows = mixed_workload(4)
    with fresh_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for path in migration_files():
                if path != ROLLUP_016:
                    conn.execute(path.read_bytes())
            for row in rows[:-4]:
                conn.execute(f"INSERT INTO {LEDGER} VALUES (%s, %s, %s, %s, %s)".encode(), row)
        assert asyncio.run(apply_migrations(url))[-1] == ROLLUP_016.name
        rollup, ledger = postgres_rollup_and_ledger(url)
        assert rollup == ledger and rollup
        with psycopg.connect(url, autocommit=True) as conn:
            for row in rows[-4:]:
                conn.execute(f"INSERT INTO {LEDGER} VALUES (%s, %s, %s, %s, %s)".encode(), row)
            conn.execute(ROLLUP_016.read_bytes())  # pasted again: recomputed, the same
            found = conn.execute("SELECT * FROM archon_agent_work_order_daily_spend(%s, %s)",
                                 (DAY_1, DAY_1 + timedelta(days=2))).fetchall()
        rollup, ledger = postgres_rollup_and_ledger(url)
        assert rollup == ledger
        assert [DailySpend.of(dict(zip(("day", "repo_full_name", "cost_usd", "steps", "work_orders"), r, strict=True)))
                for r in found] == expected(rows, DAY_1, DAY_1 + timedelta(days=2))
