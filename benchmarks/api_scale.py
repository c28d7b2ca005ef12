"""The HTTP API and /metrics at 100k work orders, in SQLite and in Postgres: server time of one request.

The store holds 100k work orders over 20 configured repositories (90k completed, 5k failed, 2k cancelled, 2,950
pending, 50 running of which 10 with an expired lease) and a spend ledger of two steps per ended work order
(~194k rows). The dashboard's pages are timed too (`page …`: rendered HTML of 50 rows, one work order, the costs).
Timed, through the real app in process (httpx's ASGI transport, so no network in the figure):
`GET /api/agent-work-orders/?limit=50`, with a status filter, a repository filter, a repository + status filter,
a deep offset (50,000), and a `/metrics` scrape (the process's counters plus the store's reads: counts by status,
the queue's head, expired leases, and each repository's spend since the previous scrape; the first scrape of a
process also sums the whole ledger, timed apart). Target: under 100 ms each.

Run with `python -m benchmarks.api_scale`; Postgres needs the shared server (AWO_TEST_DATABASE_URL, see
tests/integration/conftest.py). `--quick` fills 10x fewer rows; `--rows=1000000` another count (how the scrape,
which counts and sums history, grows).
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

from benchmarks.common import summary
from benchmarks.queue import START as CREATED
from benchmarks.queue import fill_postgres, fill_sqlite, order
from bot.migrate import apply_migrations
from bot.models import Repository, Status, WorkOrder, utcnow
from bot.runtime import build_runtime
from bot.store import Cursor, Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.integration.conftest import fresh_database

SCALE = 10 if "--quick" in sys.argv else 1
ROWS = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--rows=")), 100_000)
TOTAL, REPOS, TIMES = ROWS // SCALE, 20, 30
SHARES = ((Status.COMPLETED, 0.9), (Status.FAILED, 0.05), (Status.CANCELLED, 0.02))
RUNNING = 50 // SCALE or 1
START = utcnow() - timedelta(days=30)


def status_of(n: int) -> Status:
    """Oldest rows ended, newest waiting: the shape of a real history."""
    bound = 0.0
    for status, share in SHARES:
        bound += share * TOTAL
        if n < bound:
            return status
    return Status.RUNNING if n >= TOTAL - RUNNING else Status.PENDING


def rows() -> Iterator[dict[str, Any]]:
    now = utcnow()
    for n in range(TOTAL):
        status = status_of(n)
        lease = {}
        if status is Status.RUNNING:  # 1 in 5 a stopped worker's: its lease expired
            lease = {"lease_owner": "w", "attempt": 1,
                     "lease_expires_at": now + timedelta(seconds=-30 if n % 5 == 0 else 600)}
        yield order(n, status, issue=n, repo=n % REPOS, total_cost_usd=0.5, **lease)


def ledger() -> Iterator[tuple[str, str, str, float, Any]]:
    """Two agent steps per ended work order, each with its cost, at its work order's time."""
    for n in range(TOTAL):
        if status_of(n) in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
            at = START + timedelta(days=29) * (n / TOTAL)  # spread over the past month, whatever the count
            for step in ("plan", "implement"):
                yield f"acme/repo-{n % REPOS}", f"wo-{n:08d}", step, 0.25, at


LEDGER_COLUMNS = "repo_full_name, agent_work_order_id, step, cost_usd, at"


def fill_sqlite_ledger(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO archon_agent_work_order_spend ({LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                     [(r, w, s, c, at.isoformat()) for r, w, s, c, at in ledger()])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres_ledger(url: str) -> None:
    copying = f"COPY archon_agent_work_order_spend ({LEDGER_COLUMNS}) FROM STDIN"
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur, cur.copy(copying) as copy:
            for row in ledger():
                copy.write_row(row)
        conn.execute("VACUUM ANALYZE archon_agent_work_order_spend")
        conn.execute("VACUUM ANALYZE archon_agent_work_orders")  # as autovacuum would have: index-only scans


@asynccontextmanager
async def sqlite_store() -> AsyncIterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "api.db")
        store = SqliteStore(path)
        await store.open()
        await asyncio.to_thread(fill_sqlite, path, rows())
        await asyncio.to_thread(fill_sqlite_ledger, path)
        try:
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def postgres_store() -> AsyncIterator[Store]:
    with fresh_database() as url:
        await apply_migrations(url)
        await asyncio.to_thread(fill_postgres, url, rows())
        await asyncio.to_thread(fill_postgres_ledger, url)
        store = PostgresStore(url, max_size=2)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


async def configure(store: Store) -> None:
    for r in range(REPOS):
        await store.add_repository(Repository(repository_url=f"https://github.com/acme/repo-{r}"))


CASES: dict[str, str] = {
    "GET ?limit=50": "/api/agent-work-orders/?limit=50",
    "GET ?limit=50&status=failed": "/api/agent-work-orders/?limit=50&status=failed",
    "GET ?limit=50&status=pending": "/api/agent-work-orders/?limit=50&status=pending",
    "GET ?limit=50&repository=acme/repo-7": "/api/agent-work-orders/?limit=50&repository=acme/repo-7",
    "GET ?limit=50&repository=acme/repo-7&status=failed":
        "/api/agent-work-orders/?limit=50&repository=acme/repo-7&status=failed",
    f"GET ?limit=50&offset={TOTAL // 2}": f"/api/agent-work-orders/?limit=50&offset={TOTAL // 2}",
    "GET /metrics": "/metrics",
}
# The dashboard's pages (Accept: text/html): the list (50 rows, rendered), filtered, a deep page by its cursor, one
# work order's page, the costs of the last 30 days.
MIDDLE = f"wo-{TOTAL // 2:08d}"
PAGES: dict[str, str] = {
    "page /": "/",
    "page /?status=failed": "/?status=failed",
    "page /?repository=acme/repo-7&status=failed": "/?repository=acme/repo-7&status=failed",
    "page /?since=…&until=… (one day)": "/?since={day}&until={day}",
    "page / (older, by cursor at the middle)": "/?cursor={cursor}",
    f"page /work-orders/{MIDDLE}": f"/work-orders/{MIDDLE}",
    "page /costs (30 days)": "/costs",
}


async def timed(client: httpx.AsyncClient, path: str, check: Callable[[httpx.Response], None],
                headers: dict[str, str] | None = None) -> list[float]:
    took = []
    for _ in range(TIMES):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        took.append(time.perf_counter() - started)
        check(response)
    return took


async def repeat(call: Callable[[], Awaitable[Any]]) -> list[float]:
    took = []
    for _ in range(TIMES):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


async def read_spend(store: Store) -> None:
    names = [r.full_name for r in await store.list_repositories()]
    await store.spend_by_repository(names)


def page_ok(response: httpx.Response) -> None:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html"), response.text
    assert response.request.url.path != "/" or response.text.count("<tr data-id=") == 50, response.text[-2000:]


def page_paths() -> dict[str, str]:
    middle = CREATED + timedelta(seconds=TOTAL // 2)  # rows are 1 s apart from the queue benchmark's start
    cursor = Cursor.after(WorkOrder(agent_work_order_id=MIDDLE, repository_url="x", created_at=middle)).encode()
    day = middle.date().isoformat()
    return {case: path.format(cursor=cursor, day=day) for case, path in PAGES.items()}


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    if response.request.url.path != "/metrics":
        assert len(response.json()) == 50, response.text


async def backend(name: str, make: Callable[[], Any]) -> None:
    async with make() as store:
        await configure(store)
        with tempfile.TemporaryDirectory() as folder:
            runtime = build_runtime(make_settings(Path(folder)), workers=0, github=FakeGitHub())
            runtime.store = store  # opened and filled already; the app's lifespan is not run
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=AUTH) as client:
                await client.get("/metrics")  # warm: the first query plans and pages in the indexes
                for case, path in CASES.items():
                    print(summary(f"  {name} {case}", await timed(client, path, ok)), flush=True)
                for case, path in page_paths().items():
                    took = await timed(client, path, page_ok, headers={"Accept": "text/html"})
                    print(summary(f"  {name} {case}", took), flush=True)
                print(summary(f"  {name}   of which queue_stats()", await repeat(store.queue_stats)))
                print(summary(f"  {name}   (a first scrape's extra: the whole ledger of {REPOS} repositories)",
                              await repeat(lambda: read_spend(store))))
                print((await client.get("/metrics")).text.split("# HELP awo_work_orders ")[1][:400])


async def main() -> None:
    print(f"{TOTAL} work orders, {REPOS} repositories")
    await backend("sqlite", sqlite_store)
    await backend("postgres", postgres_store)


if __name__ == "__main__":
    asyncio.run(main())
