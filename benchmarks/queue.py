"""The queue at scale: claim latency with 50k pending, and work-order list pages at 100k rows, SQLite and Postgres.

- claim: claim + finish repeatedly while a new pending work order is added after each, so the queue keeps its
  length; timed is the claim alone. Three shapes of 50k pending: every one on its own issue; 5k of them queued
  on one issue first in line (FIFO on that issue); and the same 5k waiting behind a live lease on their issue
  (every claim must pass them by).
- list: 100k rows (50k pending, 50k completed, 20 repositories): the first page, a page at offset 50k, a page
  after a cursor half way down, and each filter (status, repository, issue, created range), through the store;
  the first page once more through the real HTTP API app.

Run with `python -m benchmarks.queue`; Postgres needs the shared server (AWO_TEST_DATABASE_URL, see
tests/integration/conftest.py). `--quick` fills 10x fewer rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from benchmarks.common import summary
from bot.migrate import apply_migrations
from bot.models import Status, WorkOrder, utcnow
from bot.runtime import build_runtime
from bot.store import Cursor, ListFilter, Store
from bot.store.postgres import PostgresStore
from bot.store.rows import to_row
from bot.store.sqlite import SqliteStore
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.integration.conftest import fresh_database

SCALE = 10 if "--quick" in sys.argv else 1
PENDING, DONE, HOT = 50_000 // SCALE, 50_000 // SCALE, 5_000 // SCALE
CLAIMS, LISTS, REPOS = 200, 30, 20
START = utcnow() - timedelta(days=3)
URL = "https://github.com/acme/repo-{}"


def order(n: int, status: Status, issue: int, repo: int = 0, **extra: Any) -> dict[str, Any]:
    """One row as the stores write it; rows are 1 s apart, in the order they are made."""
    at = START + timedelta(seconds=n)
    wo = WorkOrder(agent_work_order_id=f"wo-{n:08d}", repository_url=URL.format(repo), status=status,
                   repo_full_name=f"acme/repo-{repo}", issue_number=issue, created_at=at, updated_at=at, **extra)
    return to_row(wo, text_json=True)


def distinct(n0: int = 0) -> Iterator[dict[str, Any]]:
    """50k completed (older) then 50k pending, each pending on its own issue, spread over 20 repositories."""
    for n in range(DONE):
        yield order(n0 + n, Status.COMPLETED, issue=n, repo=n % REPOS)
    for n in range(DONE, DONE + PENDING):
        yield order(n0 + n, Status.PENDING, issue=n, repo=n % REPOS)


def hot(leased: bool) -> Iterator[dict[str, Any]]:
    """5k pending on issue 1 of repo-0 (the oldest rows), then 45k on issues of their own; its head maybe leased."""
    far = utcnow() + timedelta(days=1)
    for n in range(HOT):
        if n == 0 and leased:
            yield order(n, Status.RUNNING, issue=1, lease_owner="holder", lease_expires_at=far, attempt=1)
        else:
            yield order(n, Status.PENDING, issue=1)
    for n in range(HOT, PENDING):
        yield order(n, Status.PENDING, issue=10 + n, repo=n % REPOS)


# ---------------------------------------------------------------- filling the stores


def fill_sqlite(path: str, rows: Iterator[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    first = next(rows)
    sql = f"INSERT INTO archon_agent_work_orders ({', '.join(first)}) VALUES ({', '.join(':' + c for c in first)})"
    conn.execute("BEGIN")
    conn.executemany(sql, [first, *rows])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, rows: Iterator[dict[str, Any]]) -> None:
    first = next(rows)
    columns = list(first)
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY archon_agent_work_orders ({', '.join(columns)}) FROM STDIN") as copy:
            for row in (first, *rows):
                copy.write_row([row[c] for c in columns])
        conn.execute("ANALYZE archon_agent_work_orders")


@asynccontextmanager
async def sqlite_store(rows: Iterator[dict[str, Any]]) -> AsyncIterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "queue.db")
        store = SqliteStore(path)
        await store.open()  # the schema and its indexes, as the product makes them
        await asyncio.to_thread(fill_sqlite, path, rows)
        try:
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def postgres_store(rows: Iterator[dict[str, Any]], durable: bool = True) -> AsyncIterator[Store]:
    """A fresh migrated database; not durable: synchronous_commit off, so a claim costs its query, not an fsync."""
    with fresh_database() as url:
        await apply_migrations(url)
        await asyncio.to_thread(fill_postgres, url, rows)
        if not durable:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"ALTER DATABASE {conninfo_to_dict(url)['dbname']} SET synchronous_commit = off")
        store = PostgresStore(url, max_size=2)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


def postgres_query_cost(rows: Iterator[dict[str, Any]]) -> Any:
    return postgres_store(rows, durable=False)


def commit_floor() -> list[float]:
    """What one durable one-row UPDATE takes on this server: the floor under any claim (fsync of the WAL)."""
    with fresh_database() as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor (id int PRIMARY KEY, n int)")
        conn.execute("INSERT INTO floor VALUES (1, 0)")
        took = []
        for _ in range(CLAIMS):
            started = time.perf_counter()
            conn.execute("UPDATE floor SET n = n + 1 WHERE id = 1")
            took.append(time.perf_counter() - started)
        return took


# ---------------------------------------------------------------- measuring


async def claim_latency(store: Store, next_n: int) -> tuple[list[float], list[float]]:
    """Claim, finish, add one pending at the back, so the queue keeps its length. The seconds of each claim,
    and of the worker's whole claim path (fail_exhausted, then claim)."""
    claims, paths = [], []
    for i in range(CLAIMS):
        started = time.perf_counter()
        await store.fail_exhausted()
        middle = time.perf_counter()
        claimed = await store.claim("bench", 600)
        claims.append(time.perf_counter() - middle)
        paths.append(time.perf_counter() - started)
        assert claimed is not None
        await store.finish(claimed.id, "bench", Status.COMPLETED, {})
        n = next_n + i
        await store.create_work_order(WorkOrder(
            agent_work_order_id=f"wo-{n:08d}", repository_url=URL.format(0), repo_full_name="acme/repo-0",
            issue_number=n))
    return claims, paths


async def timed(call: Callable[[], Awaitable[Any]]) -> list[float]:
    took = []
    for _ in range(LISTS):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


def list_cases(store: Store) -> dict[str, Callable[[], Awaitable[Any]]]:
    middle = Cursor(START + timedelta(seconds=(DONE + PENDING) // 2), f"wo-{(DONE + PENDING) // 2:08d}")
    window = ListFilter(since=START + timedelta(seconds=DONE // 2), until=START + timedelta(seconds=DONE // 2 + 500))
    return {
        "first page (100)": lambda: store.list_work_orders(),
        f"offset {DONE} page": lambda: store.list_work_orders(offset=DONE),
        "cursor page (half way)": lambda: store.list_work_orders(cursor=middle),
        "status=pending": lambda: store.list_work_orders(Status.PENDING),
        "status=completed": lambda: store.list_work_orders(Status.COMPLETED),
        "status=failed (none)": lambda: store.list_work_orders(Status.FAILED),
        "repository": lambda: store.list_work_orders(where=ListFilter(repo_full_name="acme/repo-7")),
        "repository + issue": lambda: store.list_work_orders(
            where=ListFilter(repo_full_name="acme/repo-7", issue_number=DONE + 7)),
        "created since..until (500 rows)": lambda: store.list_work_orders(where=window),
        "status=completed + since..until": lambda: store.list_work_orders(Status.COMPLETED, where=window),
    }


async def lists(name: str, store: Store) -> None:
    for case, call in list_cases(store).items():
        print(summary(f"  {name} list {case}", await timed(call)))


async def http_pages(store: Store) -> list[float]:
    """GET /api/agent-work-orders/ (first page, then by the next link) through the real app, in process."""
    with tempfile.TemporaryDirectory() as folder:
        runtime = build_runtime(make_settings(Path(folder)), workers=0, github=FakeGitHub())
        runtime.store = store  # opened and filled already; the app's lifespan is not run
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=AUTH) as client:
            took, url = [], "/api/agent-work-orders/?limit=100"
            for _ in range(LISTS):
                started = time.perf_counter()
                response = await client.get(url)
                took.append(time.perf_counter() - started)
                assert response.status_code == 200 and len(response.json()) == 100, response.text
                url = response.links["next"]["url"]
            return took


async def backend(name: str, make: Callable[[Iterator[dict[str, Any]]], Any]) -> None:
    print(f"{name}:")
    shapes = {"distinct issues": distinct(), "5k FIFO on one issue": hot(False),
              "5k behind a live lease": hot(True)}
    for shape, rows in shapes.items():
        async with make(rows) as store:
            claims, paths = await claim_latency(store, 10**7)
            print(summary(f"  {name} claim, {PENDING} pending, {shape}", claims))
            print(summary(f"  {name} fail_exhausted + claim (the worker's path), {shape}", paths))
    async with make(distinct()) as store:
        await lists(name, store)
        print(summary(f"  {name} HTTP GET list pages (100, by the next link)", await http_pages(store)))


async def claims_only(name: str, make: Callable[[Iterator[dict[str, Any]]], Any]) -> None:
    for shape, rows in {"distinct issues": distinct(), "5k behind a live lease": hot(True)}.items():
        async with make(rows) as store:
            claims, _ = await claim_latency(store, 10**7)
            print(summary(f"  {name} claim, {PENDING} pending, {shape}", claims))


async def main() -> None:
    await backend("sqlite", sqlite_store)
    print(summary("postgres: one durable one-row UPDATE (the commit floor)", commit_floor()))
    await backend("postgres", postgres_store)
    await claims_only("postgres, synchronous_commit off", postgres_query_cost)


if __name__ == "__main__":
    asyncio.run(main())
