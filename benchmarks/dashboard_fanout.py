"""The dashboard's SSE fan-out: 50 browsers watching one work order (and 50 watching the list), CPU of the server.

The real `awo serve` runs in its own process with no worker; this process is the worker (a writer on the store,
as a worker on another machine is) and the browsers (httpx streams, one connection each, as EventSource has).
- detail: one running work order gains a tool use every 1/RATE s (WorkLog.tool_use); CLIENTS streams follow
  `/work-orders/{id}/events?after=N` (each entry is a `log` event, and a `state` event as the current tool changes).
- list: a new work order every 1/RATE s; CLIENTS streams follow `/events` (the first page's rows, re-rendered
  when they change, read once per LIST_SECONDS however many watch; changes within that are sent together).
For each: the server's CPU (user + sys from /proc, % of one core) over the writer's window, against the same
writer with no client (idle); the latency from the write's start to each client's arrival of it; and a check
that every client received every entry exactly once, in order (list: every new work order, none before an older).

`python -m benchmarks.dashboard_fanout [--quick] [--postgres]`: SQLite by default (the server polls every 0.2 s),
`--postgres` a fresh database on the shared server (the server wakes on NOTIFY). `--quick`: 10 clients, 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.common import percentile, summary
from bot.models import Status, WorkOrder, utcnow
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.worklog import LogKind, WorkLog
from tests.e2e.harness import free_port
from tests.fleet.harness import migrated_database

QUICK = "--quick" in sys.argv
CLIENTS, SECONDS, QUIET, RATE = (10, 5, 2, 5.0) if QUICK else (50, 30, 10, 5.0)
COUNT = int(SECONDS * RATE)
TOKEN = "bench-api-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
ROW_ID = re.compile(r'data-id="([^"]+)"')
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + sys of a process (all its threads), from /proc: no dependency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@contextlib.asynccontextmanager
async def server(env: dict[str, str], root: Path) -> AsyncIterator[tuple[str, int]]:
    """`awo serve --workers 0` in its own process: its URL and pid."""
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
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def sse(response: httpx.Response) -> AsyncIterator[tuple[float, str, str]]:
    """(arrival, event name, data) of each event, as EventSource parses them; pings skipped."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield time.monotonic(), name, data
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data += line.partition(":")[2].removeprefix(" ")


Writes = list[tuple[float, float]]  # when each write started and how long it took


async def steady(action: Callable[[int], Awaitable[None]]) -> Writes:
    """COUNT actions, one every 1/RATE s on a fixed schedule."""
    began, writes = time.monotonic(), []
    for n in range(COUNT):
        await asyncio.sleep(max(0.0, began + n / RATE - time.monotonic()))
        started = time.monotonic()
        await action(n)
        writes.append((started, time.monotonic() - started))
    return writes


@dataclass
class Window:
    """What one writer's window cost: the server's CPU and this process's (the clients', the writer's)."""

    wall: float
    server: float
    here: float

    def percent(self, of: float) -> float:
        return 100 * of / self.wall


async def measured(pid: int, writer: Awaitable[Writes]) -> tuple[Window, Writes]:
    wall, server_cpu, here = time.monotonic(), cpu_seconds(pid), cpu_seconds(os.getpid())
    writes = await writer
    return Window(time.monotonic() - wall, cpu_seconds(pid) - server_cpu, cpu_seconds(os.getpid()) - here), writes


async def running(store: Store, name: str) -> tuple[WorkOrder, int]:
    """A running work order in its `implement` step, as a worker leaves it; the id of its last entry."""
    order = await store.create_work_order(WorkOrder(
        agent_work_order_id=name, repository_url="https://github.com/acme/widgets", repo_full_name="acme/widgets",
        status=Status.RUNNING, started_at=utcnow(), attempt=1, issue_number=7, user_request="fan-out"))
    entry = await WorkLog(store).write(name, LogKind.STEP_STARTED, "implement started", step="implement",
                                       data={"attempt": 1})
    assert entry is not None and entry.id is not None
    return order, entry.id


def tool_uses(store: Store, work_order_id: str) -> Callable[[int], Awaitable[None]]:
    log = WorkLog(store)
    return lambda n: log.tool_use(work_order_id, "implement", f"Bash pytest tests/ -q -k case_{n}")


def new_orders(store: Store, prefix: str) -> Callable[[int], Awaitable[None]]:
    async def create(n: int) -> None:
        await store.create_work_order(WorkOrder(
            agent_work_order_id=f"{prefix}{n:05d}", repository_url="https://github.com/acme/widgets",
            repo_full_name="acme/widgets", issue_number=1000 + n, user_request=f"fan-out {n}"))
    return create


async def follow_detail(client: httpx.AsyncClient, order_id: str, after: int, ready: asyncio.Event) -> list[float]:
    """Each entry's arrival, by its number; asserts they come once each and in order."""
    arrived: list[float] = []
    async with client.stream("GET", f"/work-orders/{order_id}/events", params={"after": after}) as response:
        assert response.status_code == 200, response.status_code
        async for at, name, data in sse(response):
            ready.set()  # the first event (the state) is in: the stream is open
            if name == "log":
                n = int(json.loads(data)["message"].rsplit("_", 1)[1])
                assert n == len(arrived), f"entry {n} arrived after {len(arrived)} others"
                arrived.append(at)
                if len(arrived) == COUNT:
                    return arrived
    raise AssertionError(f"the stream ended after {len(arrived)} of {COUNT} entries")


async def follow_list(client: httpx.AsyncClient, prefix: str, ready: asyncio.Event) -> list[float]:
    """Each new work order's first arrival in the rows, by its number; asserts none shows before an older one."""
    arrived: list[float] = []
    shown = None
    async with client.stream("GET", "/events") as response:
        assert response.status_code == 200, response.status_code
        async for at, name, data in sse(response):
            ready.set()
            assert name == "rows" and data != shown, "the same rows sent twice"
            shown = data
            numbers = sorted(int(i[len(prefix):]) for i in ROW_ID.findall(data) if i.startswith(prefix))
            fresh = [n for n in numbers if n >= len(arrived)]
            assert fresh == list(range(len(arrived), len(arrived) + len(fresh))), f"a gap: {numbers}"
            arrived += [at] * len(fresh)
            if len(arrived) == COUNT:
                return arrived
    raise AssertionError(f"the stream ended after {len(arrived)} of {COUNT} work orders")


Follow = Callable[[httpx.AsyncClient, asyncio.Event], Coroutine[None, None, list[float]]]


@dataclass
class Result:
    stream: str
    idle: Window  # the writer, no client
    quiet: Window  # the clients, no writer
    busy: Window  # both
    latencies: list[float]
    writes: list[float]  # the writer's own time, which the latencies include

    def row(self, backend: str) -> str:
        ms = [v * 1000 for v in self.latencies]
        per_delivery = (self.busy.server - self.idle.server) / (CLIENTS * COUNT) * 1e6
        return (f"{backend:9} {self.stream:7} {CLIENTS:7} {COUNT:7} {self.idle.percent(self.idle.server):6.1f} % "
                f"{self.quiet.percent(self.quiet.server):6.1f} % {self.busy.percent(self.busy.server):6.1f} % "
                f"{per_delivery:9.0f} µs "
                f"{statistics.median(ms):7.1f} {percentile(ms, 95):7.1f} {max(ms):7.1f} "
                f"{self.busy.percent(self.busy.here):9.1f} %")


HEADER = (f"{'':33} {'server CPU, % of a core':^26} {'server CPU':>12} {'latency, ms':^23} {'client CPU':>11}\n"
          f"{'backend':9} {'stream':7} {'clients':>7} {'entries':>7} {'idle':>8} {'quiet':>8} {'fed':>8} "
          f"{'/delivery':>12} {'median':>7} {'p95':>7} {'max':>7} {'(this side)':>11}")


async def fan_out(url: str, pid: int, follow: Follow, writer: Callable[[], Awaitable[Writes]]) -> \
        tuple[Window, Window, Writes, list[float]]:
    """CLIENTS streams open, a quiet window and then the writer's measured; each entry's latency at each client."""
    limits = httpx.Limits(max_connections=CLIENTS + 5, max_keepalive_connections=CLIENTS + 5)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, limits=limits,
                                 timeout=httpx.Timeout(10, read=60)) as client:
        readies = [asyncio.Event() for _ in range(CLIENTS)]
        clients = [asyncio.create_task(follow(client, ready)) for ready in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        quiet, _ = await measured(pid, nothing())
        busy, writes = await measured(pid, writer())
        arrivals = await asyncio.wait_for(asyncio.gather(*clients), 30)
    return quiet, busy, writes, [at - writes[n][0] for each in arrivals for n, at in enumerate(each)]


async def nothing() -> Writes:
    """QUIET seconds with the streams open and nothing written: what watching costs by itself."""
    await asyncio.sleep(QUIET)
    return []


async def detail(url: str, pid: int, store: Store) -> Result:
    idle_order, _ = await running(store, "wo-idle-detail")
    idle, _ = await measured(pid, steady(tool_uses(store, idle_order.id)))
    order, after = await running(store, "wo-fan-detail")

    def follow(client: httpx.AsyncClient, ready: asyncio.Event) -> Coroutine[None, None, list[float]]:
        return follow_detail(client, order.id, after, ready)

    quiet, busy, writes, latencies = await fan_out(url, pid, follow, lambda: steady(tool_uses(store, order.id)))
    return Result("detail", idle, quiet, busy, latencies, [took for _, took in writes])


async def listing(url: str, pid: int, store: Store) -> Result:
    idle, _ = await measured(pid, steady(new_orders(store, "wo-idle-row-")))

    def follow(client: httpx.AsyncClient, ready: asyncio.Event) -> Coroutine[None, None, list[float]]:
        return follow_list(client, "wo-row-", ready)

    quiet, busy, writes, latencies = await fan_out(url, pid, follow, lambda: steady(new_orders(store, "wo-row-")))
    return Result("list", idle, quiet, busy, latencies, [took for _, took in writes])


async def warm(url: str, store: Store) -> None:
    """One page and one stream first: imports, templates and the store's first queries are not in the figures."""
    order, _ = await running(store, "wo-warm")
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=10) as client:
        for path in (f"/work-orders/{order.id}/events", "/events"):
            async with client.stream("GET", path) as response:
                async for _ in sse(response):
                    break
        await client.get(f"/work-orders/{order.id}", headers={"Accept": "text/html"})


async def run(backend: str, store: Store, env: dict[str, str], root: Path) -> None:
    await store.open()
    try:
        async with server(env, root) as (url, pid):
            await warm(url, store)
            results = [await detail(url, pid, store), await listing(url, pid, store)]
        for result in results:
            print(result.row(backend), flush=True)
        for result in results:
            print(summary(f"  {backend} {result.stream}: each write (in the latencies)", result.writes))
    finally:
        await store.close()


@contextlib.contextmanager
def backend() -> Iterator[tuple[str, Callable[[Path], tuple[Store, dict[str, str]]]]]:
    if "--postgres" not in sys.argv:
        yield "sqlite", lambda root: (SqliteStore(root / "data/work-orders.db"), {
            "STATE_STORAGE_TYPE": "sqlite", "SQLITE_PATH": str(root / "data/work-orders.db")})
        return
    with migrated_database() as url:
        yield "postgres", lambda root: (PostgresStore(url), {"STATE_STORAGE_TYPE": "postgres", "DATABASE_URL": url})


def main() -> None:
    print(f"{CLIENTS} clients per stream, {COUNT} entries over {SECONDS} s. Server CPU: idle = the writer with no "
          f"client, quiet = the clients with no writer ({QUIET} s), fed = both; per delivery = (fed - idle) / "
          f"(clients x entries). Latency: from each write's start to each client's arrival.")
    print(HEADER)
    with backend() as (name, make), tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "data").mkdir()
        store, env = make(root)
        asyncio.run(run(name, store, env, root))


if __name__ == "__main__":
    main()
