"""The Store port: every read and write of state goes through one of its backends."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bot.hosts import same_host
from bot.models import Delivery, LogEntry, Repository, Status, Step, WorkOrder


@dataclass(frozen=True)
class StoreHealth:
    status: str  # "healthy" or "unhealthy"
    tables_exist: bool
    hint: str | None = None


@dataclass(frozen=True)
class Load:
    """How busy the queue is around one trigger: what admission's limits are checked against."""

    issue_active: int  # pending or running on this issue or PR
    actor_recent: int  # created for this actor since the given time
    repo_recent: int  # created on this repository since the given time
    pending: int  # pending everywhere


@dataclass(frozen=True)
class ListFilter:
    """Which work orders a list shows; every field narrows it, and each has an index on every backend."""

    repo_full_name: str | None = None
    issue_number: int | None = None  # with repo_full_name: issue numbers are per repository
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


ALL_WORK_ORDERS = ListFilter()
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # the bounds of an unbounded time range, as stores compare times
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QueueStats:
    """The fleet's work orders as /metrics shows them, read at scrape time from indexes (bounded reads)."""

    by_status: dict[str, int]  # every status, 0 where none
    oldest_pending: datetime | None  # created_at of the longest-waiting pending work order
    expired_leases: int  # running, but their lease expired: a stopped worker's, waiting to be claimed again
    clock: datetime  # the store's own time (Postgres' now()), which stamps the spend ledger's rows

    @classmethod
    def of(cls, counts: dict[str, int], oldest_pending: datetime | None, expired_leases: int,
           clock: datetime) -> QueueStats:
        """Every status present, 0 where the store counted none."""
        return cls({str(s): int(counts.get(str(s), 0)) for s in Status}, oldest_pending, int(expired_leases), clock)


MAX_SPEND_DAYS = 366  # the longest range daily_spend reads: a year of days, whatever the ledger holds


@dataclass(frozen=True)
class DailySpend:
    """One repository's spend on one UTC day, from the spend ledger (a row per step that recorded a cost)."""

    day: date
    repo_full_name: str
    cost_usd: float
    steps: int
    work_orders: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> DailySpend:
        """From a row of any backend: the day as a date or its ISO text, sums as numbers or numeric text."""
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"])[:10])
        return cls(day, str(row["repo_full_name"]), round(float(row["cost_usd"]), 6), int(row["steps"]),
                   int(row["work_orders"]))


def spend_range(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The range in UTC (a time without a zone is UTC); ValueError unless since < until within MAX_SPEND_DAYS."""
    since, until = (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC) for t in (since, until))
    if until <= since:
        raise ValueError("until must be after since")
    if until - since > timedelta(days=MAX_SPEND_DAYS):
        raise ValueError(f"the range is longer than {MAX_SPEND_DAYS} days: ask for a shorter one")
    return since, until


# What an id of a row may look like (work orders, repositories): the API finds nothing for any other shape,
# and a cursor holding any other is not one this API gave out (stores put its id in a query).
ID_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class Cursor:
    """Where a page of work orders ended; the next page is the rows after it, newest first (a keyset).

    Rows added while a client pages are newer than any cursor, so no row is skipped or shown twice.
    """

    created_at: datetime
    id: str

    def encode(self) -> str:
        """An opaque token: base64url, so the `+` of a time zone never meets a query string."""
        text = f"{self.created_at.astimezone(UTC).isoformat(timespec='microseconds')}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """ValueError unless `token` is what encode() made (its id is checked: stores put it in a query)."""
        try:
            at, _, work_order_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition("|")
            moment = datetime.fromisoformat(at)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError("not a cursor this API gave out") from None
        if moment.tzinfo is None or not ID_SHAPE.match(work_order_id):
            raise ValueError("not a cursor this API gave out")
        return cls(moment.astimezone(UTC), work_order_id)

    @classmethod
    def after(cls, work_order: WorkOrder) -> Cursor:
        return cls(work_order.created_at, work_order.id)


class Store(Protocol):
    """State of deliveries, repositories, work orders and steps; the queue lives here too."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def health(self) -> StoreHealth: ...

    async def record_delivery(self, delivery: Delivery) -> bool:
        """Insert a delivery; False if its id was recorded before (a redelivery)."""
        ...

    async def unprocessed_deliveries(self, limit: int = 100) -> list[Delivery]: ...
    async def mark_delivery(self, delivery_id: str, outcome: str) -> None: ...

    async def list_deliveries(self, limit: int = 100, outcome: str | None = None, offset: int = 0) -> list[Delivery]:
        """Newest first, without their payloads, skipping `offset`; `outcome` keeps those whose outcome starts with
        it."""
        ...

    async def prune_deliveries(self, before: datetime) -> int:
        """Delete deliveries received before `before` (retention); how many went."""
        ...

    async def get_delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its payload (else NotFound)."""
        ...

    async def add_repository(self, repo: Repository) -> Repository: ...
    async def list_repositories(self) -> list[Repository]: ...
    async def get_repository(self, repo_id: str) -> Repository: ...
    async def update_repository(self, repo_id: str, changes: dict[str, Any]) -> Repository: ...
    async def delete_repository(self, repo_id: str) -> None: ...

    async def create_work_order(self, work_order: WorkOrder) -> WorkOrder: ...
    async def get_work_order(self, work_order_id: str) -> WorkOrder: ...
    async def list_work_orders(
        self, status: Status | None = None, limit: int = 100, *,
        where: ListFilter = ALL_WORK_ORDERS, cursor: Cursor | None = None, offset: int = 0,
    ) -> list[WorkOrder]:
        """Newest first (created_at, then id, descending): the rows after `cursor`, skipping `offset` of them."""
        ...

    async def update_work_order(
        self, work_order_id: str, changes: dict[str, Any], owner: str | None = None
    ) -> WorkOrder:
        """Change columns; with `owner`, only while that worker holds the lease (else LeaseLost)."""
        ...

    async def claim(self, worker_id: str, lease_seconds: float) -> WorkOrder | None:
        """Lease the oldest runnable work order: pending, or running with an expired lease."""
        ...

    async def heartbeat(self, work_order_id: str, worker_id: str, lease_seconds: float) -> bool: ...

    async def finish(
        self, work_order_id: str, worker_id: str, status: Status, changes: dict[str, Any]
    ) -> WorkOrder:
        """End a work order the worker owns, releasing its lease (else LeaseLost)."""
        ...

    async def fail_exhausted(self) -> list[WorkOrder]:
        """Fail, with report_pending set, work orders with no attempt left: pending, or running past their lease."""
        ...

    async def release(self, work_order_id: str, worker_id: str) -> bool:
        """Hand a running work order back (pending) and give its attempt back; False unless worker_id holds it."""
        ...

    async def pending_reports(self, limit: int = 20) -> list[WorkOrder]:
        """Ended work orders whose final comment GitHub does not have yet (the outbox), oldest first."""
        ...

    async def mark_reported(self, work_order: WorkOrder) -> bool:
        """Clear report_pending, if the row is unchanged since `work_order` was read (else it reports again)."""
        ...

    async def wait_for_work(self, timeout: float) -> None:
        """Return when new work may be waiting (a notification), or after `timeout` seconds."""
        ...

    async def admission_load(self, repo_full_name: str, issue_number: int, actor: str, since: datetime) -> Load:
        """The counts admission's limits need, in one round trip (it runs on every trigger)."""
        ...

    async def note_refusal(self, repo_full_name: str, issue_number: int, window_seconds: float) -> bool:
        """True for the one caller that may say a refusal on this issue now; remembered for the window."""
        ...

    async def spent_since(self, repo_full_name: str | None, since: datetime) -> float:
        """Dollars the ledger recorded at or after `since`, for one repository or (None) for all (daily caps)."""
        ...

    async def queue_stats(self) -> QueueStats:
        """Counts by status (a covering index), the oldest pending and the expired leases (partial indexes)."""
        ...

    async def spend_by_repository(
        self, names: list[str], since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, float]:
        """Each named repository's dollars in the spend ledger recorded in [since, until) (unset: unbounded): a
        range of its (repository, time) index per name, so a short range reads only its own rows."""
        ...

    async def daily_spend(
        self, since: datetime, until: datetime, repository: str | None = None,
    ) -> list[DailySpend]:
        """The ledger's rows recorded in [since, until), summed per UTC day and repository, newest day first, then
        by repository name; one repository's only if named. ValueError for a range spend_range refuses."""
        ...

    async def add_step(self, step: Step) -> None: ...
    async def list_steps(self, work_order_id: str) -> list[Step]: ...

    async def cancel_work_order(self, work_order_id: str) -> WorkOrder:
        """Stop a work order: pending (or running without a live lease) → cancelled now, report_pending; running →
        cancel_requested, for the worker holding it to end it. The row after; Conflict if it had ended."""
        ...

    async def cancel_requests(self, work_order_ids: list[str]) -> list[str]:
        """Of these running work orders, the ones whose stop was asked for (one cheap query, polled often)."""
        ...

    async def retry_work_order(self, work_order_id: str, attempts: int) -> WorkOrder:
        """A failed or cancelled work order queued again, the same row (its branch, its comment), with `attempts`
        more attempts; Conflict if it is not failed or cancelled."""
        ...

    # the work order log (migration 012): what the API's /logs routes, `awo logs` and the dashboard read

    async def append_log(self, entry: LogEntry) -> LogEntry:
        """Store one entry; the entry with its id (a reader's cursor, increasing). NotFound without its work order."""
        ...

    async def list_logs(
        self, work_order_id: str, after: int = 0, limit: int = 100, *,
        offset: int = 0, level: str | None = None, step: str | None = None,
    ) -> list[LogEntry]:
        """A work order's entries with an id above `after`, oldest first; `level`/`step` keep those that match."""
        ...

    async def count_logs(self, work_order_id: str, *, level: str | None = None, step: str | None = None) -> int:
        """How many entries the work order has (matching `level`/`step`): the list's `total`."""
        ...

    async def wait_for_logs(self, work_order_id: str, after: int, timeout: float) -> bool:
        """Return True once the work order has entries with an id above `after` (at once if it has), False after
        `timeout` seconds without. Postgres: woken by NOTIFY over one LISTEN connection per process, so a worker
        on another machine wakes it; elsewhere the store is polled every 0.2 s while someone waits."""
        ...


async def repository_for(store: Store, full_name: str, url: str = "") -> Repository | None:
    """The configured repository with this `owner/name`, if any (case-insensitive, like GitHub); given the
    URL it was named by, only one on that URL's host: a GHES `o/r` is not github.com's `o/r`."""
    wanted = full_name.lower()
    for repo in await store.list_repositories():
        if repo.full_name.lower() == wanted and same_host(repo.repository_url, url):
            return repo
    return None
