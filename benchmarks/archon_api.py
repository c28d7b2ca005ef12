"""Archon's shape and the paged lists at 100k rows (SQLite), and `awo list` as a user runs it.

- the work-order list page (limit 50 and 500) through the real app in process, and what Archon's six fields cost
  per row (the projection alone, against dumping our fields);
- GET /{id}/git-progress;
- deliveries: 100k rows, a page of 100 at offset 0, 50k and 99.9k (offset pages cost what they skip: bounded);
- `awo list --limit 50` (a new process: Python's start-up included) against a real server on loopback.

Run with `python -m benchmarks.archon_api` (`--quick`: 10x fewer rows).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

from benchmarks.common import summary
from benchmarks.queue import SCALE, distinct, sqlite_store
from bot.archon import archon_fields
from bot.models import utcnow
from bot.runtime import build_runtime
from bot.store import Store
from bot.store.sqlite import SqliteStore
from bot.testing import FakeGitHub
from bot.web.api import dump
from bot.web.app import create_app
from tests.conftest import API_TOKEN, AUTH, make_settings

ROUNDS = 30
DELIVERIES = 100_000 // SCALE
AWO = str(Path(sys.executable).with_name("awo"))


async def timed_get(client: httpx.AsyncClient, url: str, rounds: int = ROUNDS) -> list[float]:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get(url)
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return took


async def api_pages(store: Store, folder: Path) -> None:
    runtime = build_runtime(make_settings(folder), workers=0, github=FakeGitHub())
    runtime.store = store  # opened and filled already; the app's lifespan is not run
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=AUTH) as client:
        for limit in (50, 500):
            print(summary(f"  HTTP GET /api/agent-work-orders/?limit={limit}",
                          await timed_get(client, f"/api/agent-work-orders/?limit={limit}")))
        first = (await client.get("/api/agent-work-orders/?limit=1")).json()[0]["agent_work_order_id"]
        print(summary("  HTTP GET /{id}/git-progress", await timed_get(client, f"/api/agent-work-orders/{first}/"
                                                                             "git-progress")))
    orders = await store.list_work_orders(limit=500)
    ours, archons = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        [dump(o) for o in orders]
        ours.append((time.perf_counter() - started) / len(orders))
        started = time.perf_counter()
        [archon_fields(o) for o in orders]
        archons.append((time.perf_counter() - started) / len(orders))
    print(summary("  per row: our fields dumped", ours, "µs", 1e6))
    print(summary("  per row: Archon's six fields added", archons, "µs", 1e6))


def fill_deliveries(path: str) -> None:
    start = utcnow() - timedelta(days=10)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO archon_agent_work_order_deliveries (delivery_id, event, action, repo_full_name, payload, "
        "outcome, received_at) VALUES (?, 'issue_comment', 'created', 'acme/repo', '{}', 'ignored: no phrase', ?)",
        ((f"d-{n:08d}", (start + timedelta(seconds=n)).isoformat()) for n in range(DELIVERIES)))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


async def delivery_pages(store: Store, path: str) -> None:
    await asyncio.to_thread(fill_deliveries, path)
    for offset in (0, DELIVERIES // 2, DELIVERIES - 100):
        took = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            page = await store.list_deliveries(100, None, offset)
            took.append(time.perf_counter() - started)
            assert len(page) == 100
        print(summary(f"  store list_deliveries(100) at offset {offset} of {DELIVERIES}", took))


def awo_list(store_path: Path, folder: Path) -> None:
    """The real server on loopback over the filled SQLite file; `awo list --limit 50` run as a new process."""
    settings = make_settings(folder, storage_type="sqlite", sqlite_path=store_path)
    served = uvicorn.Server(uvicorn.Config(create_app(build_runtime(settings, github=FakeGitHub())),
                                           lifespan="on", log_config=None, access_log=False))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not served.started:
        time.sleep(0.02)
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AWO_API_TOKEN": API_TOKEN,
           "AWO_URL": f"http://127.0.0.1:{sock.getsockname()[1]}"}
    took = []
    for _ in range(10):
        started = time.perf_counter()
        done = subprocess.run([AWO, "list", "--limit", "50"], env=env, capture_output=True, text=True, check=True)
        took.append(time.perf_counter() - started)
        assert len(done.stdout.splitlines()) == 51, done.stdout[-500:]
    print(summary("  `awo list --limit 50`, a new process (wall)", took))
    served.should_exit = True
    thread.join(20)
    sock.close()


async def main() -> None:
    print(f"sqlite, {2 * 50_000 // SCALE} work orders:")
    async with sqlite_store(distinct()) as store:
        with tempfile.TemporaryDirectory() as folder:
            await api_pages(store, Path(folder))
            assert isinstance(store, SqliteStore)
            path = store.path
            await delivery_pages(store, path)
            await asyncio.to_thread(awo_list, Path(path), Path(folder))


if __name__ == "__main__":
    asyncio.run(main())
