"""The work order log's figures: what one log write costs a work order (per tool use), and how long an event takes
from its write to an SSE client, with the server in another process than the writer (as a worker on another
machine is), on SQLite (polling) and on Postgres (NOTIFY).

`python -m benchmarks.logs [writes] [events]`: medians and p99 printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from benchmarks.common import summary
from bot.models import WorkOrder
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.worklog import LogKind, WorkLog
from tests.e2e.harness import free_port
from tests.fleet.harness import migrated_database

TOKEN = "bench-api-token"
SECRETS = ("ghp_benchsecret0123456789abcdefABCDEF", "sk-bench-key")


async def write_costs(store: Store, writes: int) -> list[float]:
    """Seconds per WorkLog.tool_use (redaction, bounds and the insert), one after another as the pipeline does."""
    await store.create_work_order(WorkOrder(agent_work_order_id="wo-bench", repository_url="https://github.com/o/r"))
    log = WorkLog(store, SECRETS)
    costs = []
    for n in range(writes):
        started = time.perf_counter()
        await log.tool_use("wo-bench", "implement", f"Bash grep -rn 'pattern {n}' src/ tests/ --include=*.py")
        costs.append(time.perf_counter() - started)
    return costs


@contextlib.asynccontextmanager
async def server(env: dict[str, str], root: Path) -> AsyncIterator[str]:
    """`awo serve` with no worker, in its own process; its URL."""
    port = free_port()
    full = {"PATH": os.environ["PATH"], "HOME": str(root), "AGENT_WORK_ORDERS_HOST": "127.0.0.1",
            "AGENT_WORK_ORDERS_PORT": str(port), "AWO_API_TOKEN": TOKEN, "GITHUB_WEBHOOK_SECRET": "bench",
            "AWO_DATA_DIR": str(root / "data"), "LOG_LEVEL": "WARNING", **env}
    with (root / "server.log").open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--workers", "0"], env=full,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/health")).status_code in (200, 503):
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def sse_latencies(url: str, store: Store, events: int) -> list[float]:
    """Seconds from a write (in this process) to its arrival at an SSE client of the server (another process)."""
    await store.create_work_order(WorkOrder(agent_work_order_id="wo-live", repository_url="https://github.com/o/r"))
    log = WorkLog(store)
    arrived: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client, \
            client.stream("GET", "/api/agent-work-orders/wo-live/logs/stream") as response:
        lines = response.aiter_lines()

        async def read() -> None:
            async for line in lines:
                if line.startswith("data:"):
                    data = json.loads(line[5:])
                    if "t" in data.get("data", {}):
                        arrived.append(time.time() - float(data["data"]["t"]))
                        if len(arrived) == events:
                            return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        for n in range(events):
            await log.write("wo-live", LogKind.NOTE, f"event {n}", data={"t": f"{time.time():.6f}"})
            await asyncio.sleep(0.1)
        await asyncio.wait_for(reader, 30)
    return arrived


async def sqlite_figures(writes: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = SqliteStore(root / "data/work-orders.db")
        await store.open()
        try:
            print(summary("log write per tool use, SQLite file", await write_costs(store, writes)))
            async with server({"STATE_STORAGE_TYPE": "sqlite", "SQLITE_PATH": str(root / "data/work-orders.db")},
                              root) as url:
                print(summary("write -> SSE client, SQLite (server in another process, polling 0.2 s)",
                              await sse_latencies(url, store, events)))
        finally:
            await store.close()


async def postgres_figures(url: str, writes: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = PostgresStore(url)
        await store.open()
        try:
            print(summary("log write per tool use, Postgres", await write_costs(store, writes)))
            async with server({"STATE_STORAGE_TYPE": "postgres", "DATABASE_URL": url}, Path(folder)) as served:
                print(summary("write -> SSE client, Postgres (server in another process, LISTEN/NOTIFY)",
                              await sse_latencies(served, store, events)))
        finally:
            await store.close()


def main() -> None:
    writes = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    asyncio.run(sqlite_figures(writes, events))
    with migrated_database() as url:
        asyncio.run(postgres_figures(url, writes, events))


if __name__ == "__main__":
    main()
