"""GET /metrics: Prometheus' text format, behind the API token (it names repositories).

Two sources. The process's counters (bot/metrics.py): deliveries, intake failures, step durations, leases, GitHub
calls and its rate limit. And, read from the store at each scrape, what is true across a fleet of workers sharing
it: work orders by status, the queue's depth and oldest wait, expired leases, and what each configured repository
has spent (the spend ledger: read whole once, then only its rows since the previous scrape). Those reads are index
walks; only the counts by status grow with history (benchmarks/api_scale.py measures a scrape at 100k and 1M).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.errors import StoreUnavailable
from bot.models import utcnow
from bot.store import QueueStats, Store
from bot.web.api import guarded, problem
from bot.web.context import runtime_of

PATH = "/metrics"
SETTLE = timedelta(minutes=1)


class StoreReadings(Collector):
    """One scrape's store-derived series, read before the exposition is written."""

    def __init__(self, stats: QueueStats, spent: dict[str, float], now: datetime) -> None:
        self.stats, self.spent, self.now = stats, spent, now

    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("awo_work_orders", "Work orders in the store, by status", labels=["status"])
        for status, count in self.stats.by_status.items():
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("awo_queue_depth", "Pending work orders (waiting for a worker)",
                                value=self.stats.by_status.get("pending", 0))
        oldest = self.stats.oldest_pending
        age = max(0.0, (self.now - oldest).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily("awo_queue_oldest_age_seconds", "How long the oldest pending work order has waited "
                                "(0 when none waits)", value=age)
        yield GaugeMetricFamily("awo_leases_expired", "Running work orders whose lease expired (a stopped worker's, "
                                "waiting to be claimed again)", value=self.stats.expired_leases)
        spend = CounterMetricFamily("awo_spend_usd", "Dollars the agent spent, by configured repository (the spend "
                                    "ledger)", labels=["repository"])
        for repository, dollars in sorted(self.spent.items()):
            spend.add_metric([repository], dollars)
        yield spend


class SpendTotals:
    """All-time spend per repository, kept by the app between scrapes: the ledger only grows, so a scrape reads the
    rows since the previous one (a short range of its (repository, time) index), not the whole history again.

    Rows newer than SETTLE are read at every scrape and only then added for good: a ledger row's time is taken
    when its step's transaction writes it, and such a transaction commits (becomes visible) within moments. Times
    are the store's own clock (QueueStats.clock), so a web process whose clock differs misses nothing.
    """

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.settled: dict[str, float] = {}
        self.until: datetime | None = None  # everything before this is in `settled`

    async def read(self, store: Store, names: tuple[str, ...], now: datetime) -> dict[str, float]:
        if names != self.names:  # a repository added or removed: its history is read once, whole
            self.names, self.settled, self.until = names, {n: 0.0 for n in names}, None
        mark = now - SETTLE
        if self.until is None or mark > self.until:
            newly = await store.spend_by_repository(list(names), self.until, mark)
            self.settled = {n: self.settled[n] + newly.get(n, 0.0) for n in names}
            self.until = mark
        recent = await store.spend_by_repository(list(names), self.until)
        return {n: self.settled[n] + recent.get(n, 0.0) for n in names}


async def read_store(store: Store, spend: SpendTotals) -> StoreReadings:
    stats = await store.queue_stats()
    names = tuple(sorted({repo.full_name for repo in await store.list_repositories()}))
    return StoreReadings(stats, await spend.read(store, names, stats.clock), utcnow())


async def metrics(request: Request) -> Response:
    """The exposition; the API token is checked by the ApiToken middleware (/metrics is not public)."""
    runtime = runtime_of(request)
    readings = CollectorRegistry(auto_describe=False)
    if not hasattr(request.app.state, "spend"):
        request.app.state.spend = SpendTotals()
    try:
        readings.register(await read_store(runtime.store, request.app.state.spend))
    except StoreUnavailable:  # the process's own counters alone would read as an empty fleet: say it is down
        return problem(503, "the store is unavailable: /health says why", {"Retry-After": "5"})
    body = runtime.metrics.exposition() + generate_latest(readings)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)  # what every Prometheus reads (names are all legacy)


routes = [Route(PATH, guarded(metrics), methods=["GET"])]
