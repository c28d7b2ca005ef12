"""The embedded store: SQLite (a file, or `:memory:`), one writer transaction per queue operation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.control import STOPPED, not_cancellable, not_retryable
from bot.errors import Conflict, LeaseLost, NotFound, StoreUnavailable
from bot.models import WORK_ORDER_MUTABLE, Delivery, LogEntry, Repository, Status, Step, WorkOrder, utcnow
from bot.store import (
    ALL_WORK_ORDERS,
    EARLIEST,
    LATEST,
    Cursor,
    DailySpend,
    ListFilter,
    Load,
    QueueStats,
    StoreHealth,
    spend_range,
)
from bot.store.fast_insert import FastInserts
from bot.store.log_watch import poll_for_logs
from bot.store.queries import load
from bot.store.remote import REPOSITORY_MUTABLE, checked
from bot.store.rows import from_row, iso, to_cell, to_row

T = TypeVar("T")
Q = load("sqlite.sql")
WORK_ORDERS = "archon_agent_work_orders"
REPOSITORIES = "archon_configured_repositories"
DELIVERIES = "archon_agent_work_order_deliveries"
LIST_TERMS = {  # a list filter's value name -> its term in list_work_orders' {where}
    "status": "status = :status",
    "repo": "repo_full_name = :repo",
    "issue": "issue_number = :issue",
    "since": "created_at >= :since",
    "until": "created_at < :until",
    "cursor_at": "(created_at, agent_work_order_id) < (:cursor_at, :cursor_id)",
}


class SqliteStore:
    """Store on SQLite; safe across threads of one process and across processes sharing the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._fast = FastInserts()

    async def open(self) -> None:
        """Create the file and its tables; StoreUnavailable (not a crash) if that cannot be done yet."""
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = await asyncio.to_thread(self._connect)
            if self.path != ":memory:":  # a second `:memory:` connection would be another database
                self._fast.open(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the SQLite store at {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # Above FastInserts.RESTART_FRAMES: where the loop's inserts run, their own checkpoints keep the WAL
            # below this, so this connection's writes (in threads) never run one inside their commit, as they
            # did at SQLite's default of 1,000 pages, copying the whole WAL and fsyncing, a few ms per trigger.
            # A process without them (a worker on the same file) still checkpoints here, at 32 MB.
            conn.execute(f"PRAGMA wal_autocheckpoint = {2 * FastInserts.RESTART_FRAMES}")
        conn.executescript(Q["schema"])
        _add_missing_column(conn, Q["add_trigger_key"])  # files made before these columns existed
        _add_missing_column(conn, Q["add_clone_url"])
        _add_missing_column(conn, Q["add_report_pending"])
        _add_missing_column(conn, Q["add_cancel_requested"])
        _add_missing_column(conn, Q["add_step_prompt"])
        conn.executescript(Q["security_indexes"])
        conn.executescript(Q["report_pending_index"])
        conn.executescript(Q["queue_indexes"])
        conn.executescript(Q["spend_ledger"])
        _add_spend_rollup(conn)
        conn.executescript(Q["work_order_logs"])
        return conn

    async def close(self) -> None:
        self._fast.close()  # used only on the event loop, so nothing else can be using it now
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        """Under the lock: a query still running in a thread (its awaiting task cancelled at shutdown) would
        otherwise use a closed connection, which crashes the process (a segfault in the sqlite3 module)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._locked, work)

    def _locked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._conn is None:
                raise StoreUnavailable("the SQLite store is not open")
            try:
                return work(self._conn)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite: {exc}") from exc

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, rolled back if either the work or the COMMIT fails: a connection left in
        a transaction would take every later write of the process into it, uncommitted, holding the lock."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise

    async def health(self) -> StoreHealth:
        def probe(conn: sqlite3.Connection) -> int:
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'archon_%'"
            return int(conn.execute(sql).fetchone()[0])

        try:
            return StoreHealth("healthy", await self._run(probe) >= 4)
        except StoreUnavailable as exc:  # never raises, like the other backends: /health reports it
            return StoreHealth("unhealthy", False, hint=str(exc))

    # deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        """One insert, on the event loop when it can be done without waiting (see FastInserts)."""
        row = delivery_row(delivery)
        inserted = await self._fast.insert(Q["insert_delivery"], row, len(row["payload"]))
        if self._fast.due_for_checkpoint():
            self._fast.keep(asyncio.create_task(self._checkpoint()))
        if inserted is None:
            inserted = await self._run(lambda c: c.execute(Q["insert_delivery"], row).rowcount == 1)
        return inserted

    async def _checkpoint(self) -> None:
        """The fast inserts' checkpoint, in a thread (it fsyncs); skipped if the store is closing."""
        with contextlib.suppress(StoreUnavailable):
            await self._fast.checkpoint(self._run)

    async def unprocessed_deliveries(self, limit: int = 100) -> list[Delivery]:
        rows = await self._run(lambda c: c.execute(Q["unprocessed_deliveries"], {"limit": limit}).fetchall())
        return [from_row(Delivery, dict(r)) for r in rows]

    async def mark_delivery(self, delivery_id: str, outcome: str) -> None:
        params = {"delivery_id": delivery_id, "outcome": outcome, "now": iso(utcnow())}
        await self._run(lambda c: c.execute(Q["mark_delivery"], params))

    async def list_deliveries(self, limit: int = 100, outcome: str | None = None, offset: int = 0) -> list[Delivery]:
        params = {"limit": limit, "outcome": outcome, "offset": offset}
        rows = await self._run(lambda c: c.execute(Q["list_deliveries"], params).fetchall())
        return [from_row(Delivery, dict(r)) for r in rows]

    async def prune_deliveries(self, before: datetime) -> int:
        return await self._run(lambda c: c.execute(Q["prune_deliveries"], {"before": iso(before)}).rowcount)

    async def get_delivery(self, delivery_id: str) -> Delivery:
        row = await self._run(lambda c: _select_one(c, DELIVERIES, "delivery_id", delivery_id))
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return from_row(Delivery, row)

    # repositories

    async def add_repository(self, repo: Repository) -> Repository:
        repo = repo.model_copy(update={"id": repo.id or str(uuid.uuid4())})
        row = to_row(repo)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                _insert(conn, REPOSITORIES, row)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"repository {repo.repository_url} is already configured") from exc

        await self._run(insert)
        return repo

    async def list_repositories(self) -> list[Repository]:
        rows = await self._run(lambda c: c.execute(f"SELECT * FROM {REPOSITORIES} ORDER BY created_at").fetchall())
        return [from_row(Repository, dict(r)) for r in rows]

    async def get_repository(self, repo_id: str) -> Repository:
        row = await self._run(lambda c: _select_one(c, REPOSITORIES, "id", repo_id))
        if row is None:
            raise NotFound(f"repository {repo_id} not found")
        return from_row(Repository, row)

    async def update_repository(self, repo_id: str, changes: dict[str, Any]) -> Repository:
        changes = {**checked(changes, REPOSITORY_MUTABLE), "updated_at": utcnow()}
        count = await self._run(lambda c: _update(c, REPOSITORIES, "id", repo_id, changes, ""))
        if count == 0:
            raise NotFound(f"repository {repo_id} not found")
        return await self.get_repository(repo_id)

    async def delete_repository(self, repo_id: str) -> None:
        count = await self._run(lambda c: c.execute(f"DELETE FROM {REPOSITORIES} WHERE id = ?", (repo_id,)).rowcount)
        if count == 0:
            raise NotFound(f"repository {repo_id} not found")

    # work orders

    async def create_work_order(self, work_order: WorkOrder) -> WorkOrder:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                _insert(conn, WORK_ORDERS, to_row(work_order))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"work order {work_order.id}, its delivery or its trigger exists already") from exc

        await self._run(insert)
        return work_order

    async def get_work_order(self, work_order_id: str) -> WorkOrder:
        row = await self._run(lambda c: _select_one(c, WORK_ORDERS, "agent_work_order_id", work_order_id))
        if row is None:
            raise NotFound(f"work order {work_order_id} not found")
        return from_row(WorkOrder, row)

    async def list_work_orders(
        self, status: Status | None = None, limit: int = 100, *,
        where: ListFilter = ALL_WORK_ORDERS, cursor: Cursor | None = None, offset: int = 0,
    ) -> list[WorkOrder]:
        sql, params = _list_query(status, where, cursor)
        params.update(limit=limit, offset=offset)
        rows = await self._run(lambda c: c.execute(sql, params).fetchall())
        return [from_row(WorkOrder, dict(r)) for r in rows]

    async def update_work_order(
        self, work_order_id: str, changes: dict[str, Any], owner: str | None = None
    ) -> WorkOrder:
        changes = {**checked(changes, WORK_ORDER_MUTABLE), "updated_at": utcnow()}
        guard = " AND lease_owner = :_owner AND status = 'running'" if owner else ""
        params = {**changes, "_owner": owner} if owner else changes
        count = await self._run(lambda c: _update(c, WORK_ORDERS, "agent_work_order_id", work_order_id, params, guard))
        if count == 0:
            await self.get_work_order(work_order_id)
            raise LeaseLost(f"work order {work_order_id} is no longer leased by {owner}")
        return await self.get_work_order(work_order_id)

    async def queue_stats(self) -> QueueStats:
        def read(conn: sqlite3.Connection) -> QueueStats:
            counts = {row["status"]: row["n"] for row in conn.execute(Q["status_counts"])}
            head = conn.execute(Q["queue_head"], {"now": iso(utcnow())}).fetchone()
            oldest = datetime.fromisoformat(head["oldest"]) if head["oldest"] else None
            return QueueStats.of(counts, oldest, head["expired"], utcnow())  # a file: this machine's clock

        return await self._run(read)

    async def spend_by_repository(
        self, names: list[str], since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, float]:
        bounds = {"since": iso(since or EARLIEST), "until": iso(until or LATEST)}

        def read(conn: sqlite3.Connection) -> dict[str, float]:
            found = conn.execute(Q["spend_by_repository"], {"names": json.dumps(names), **bounds})
            return {name: 0.0 for name in names} | {row["repo_full_name"]: float(row["spent"]) for row in found}

        return await self._run(read)

    async def daily_spend(
        self, since: datetime, until: datetime, repository: str | None = None,
    ) -> list[DailySpend]:
        since, until = spend_range(since, until)
        params = {**rollup_bounds(since, until), "repo": repository}
        query = Q["daily_spend_all"] if repository is None else Q["daily_spend_repo"]
        rows = await self._run(lambda c: c.execute(query, params).fetchall())
        return [DailySpend.of(dict(r)) for r in rows]

    async def claim(self, worker_id: str, lease_seconds: float) -> WorkOrder | None:
        now = utcnow()
        params = {"now": iso(now), "worker_id": worker_id, "expires": iso(now + timedelta(seconds=lease_seconds))}

        def claim_one(conn: sqlite3.Connection) -> sqlite3.Row | None:
            with self._transaction(conn):
                row = conn.execute(Q["claim_candidate"], params).fetchone()
                if row is not None:
                    conn.execute(Q["take_lease"], {**params, "id": row[0]})
            return row

        claimed = await self._run(claim_one)
        if claimed is None:
            return None
        return (await self.get_work_order(claimed[0])).claimed_from(claimed["reclaimed_from"])

    async def heartbeat(self, work_order_id: str, worker_id: str, lease_seconds: float) -> bool:
        now = utcnow()
        params = {
            "id": work_order_id, "worker_id": worker_id, "now": iso(now),
            "expires": iso(now + timedelta(seconds=lease_seconds)),
        }
        return await self._run(lambda c: c.execute(Q["heartbeat"], params).rowcount == 1)

    async def finish(
        self, work_order_id: str, worker_id: str, status: Status, changes: dict[str, Any]
    ) -> WorkOrder:
        final = {**changes, "status": status, "completed_at": utcnow(), "lease_owner": None, "lease_expires_at": None}
        return await self.update_work_order(work_order_id, final, owner=worker_id)

    async def fail_exhausted(self) -> list[WorkOrder]:
        now = {"now": iso(utcnow())}

        def fail(conn: sqlite3.Connection) -> list[str]:
            with self._transaction(conn):
                ids = [r[0] for r in conn.execute(Q["exhausted"], now).fetchall()]
                return [i for i in ids if conn.execute(Q["fail_exhausted"], {**now, "id": i}).rowcount == 1]

        return [await self.get_work_order(i) for i in await self._run(fail)]

    async def release(self, work_order_id: str, worker_id: str) -> bool:
        params = {"id": work_order_id, "worker_id": worker_id, "now": iso(utcnow())}
        return await self._run(lambda c: c.execute(Q["release"], params).rowcount == 1)

    async def pending_reports(self, limit: int = 20) -> list[WorkOrder]:
        rows = await self._run(lambda c: c.execute(Q["pending_reports"], {"limit": limit}).fetchall())
        return [from_row(WorkOrder, dict(r)) for r in rows]

    async def cancel_work_order(self, work_order_id: str) -> WorkOrder:
        params = {"id": work_order_id, "now": iso(utcnow()), "reason": STOPPED}

        def cancel_one(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                done = conn.execute(Q["cancel_pending"], params).rowcount == 1
                return done or conn.execute(Q["cancel_running"], params).rowcount == 1

        changed = await self._run(cancel_one)
        work_order = await self.get_work_order(work_order_id)
        if not changed:
            raise not_cancellable(work_order)
        return work_order

    async def cancel_requests(self, work_order_ids: list[str]) -> list[str]:
        if not work_order_ids:
            return []
        params = {"ids": json.dumps(list(work_order_ids))}
        rows = await self._run(lambda c: c.execute(Q["cancel_requests"], params).fetchall())
        return sorted(r[0] for r in rows)

    async def retry_work_order(self, work_order_id: str, attempts: int) -> WorkOrder:
        params = {"id": work_order_id, "attempts": attempts, "now": iso(utcnow())}
        changed = await self._run(lambda c: c.execute(Q["retry"], params).rowcount == 1)
        work_order = await self.get_work_order(work_order_id)
        if not changed:
            raise not_retryable(work_order)
        return work_order

    async def mark_reported(self, work_order: WorkOrder) -> bool:
        params = {"id": work_order.id, "updated_at": iso(work_order.updated_at)}
        return await self._run(lambda c: c.execute(Q["mark_reported"], params).rowcount == 1)

    async def wait_for_work(self, timeout: float) -> None:
        """SQLite has no notifications: in one process intake wakes the worker directly; others poll."""
        await asyncio.sleep(timeout)

    # admission

    async def admission_load(self, repo_full_name: str, issue_number: int, actor: str, since: datetime) -> Load:
        params = {"repo": repo_full_name, "issue": issue_number, "actor": actor, "since": iso(since)}
        row = await self._run(lambda c: c.execute(Q["admission_load"], params).fetchone())
        return Load(*(int(v) for v in row))

    async def note_refusal(self, repo_full_name: str, issue_number: int, window_seconds: float) -> bool:
        now = utcnow()
        params = {"repo": repo_full_name, "issue": issue_number, "now": iso(now),
                  "cutoff": iso(now - timedelta(seconds=window_seconds))}
        return await self._run(lambda c: c.execute(Q["note_refusal"], params).rowcount == 1)

    async def spent_since(self, repo_full_name: str | None, since: datetime) -> float:
        query, params = ((Q["spent_since_all"], {"since": iso(since)}) if repo_full_name is None
                         else (Q["spent_since_repo"], {"repo": repo_full_name, "since": iso(since)}))
        return float(await self._run(lambda c: c.execute(query, params).fetchone()[0]))

    # steps

    async def add_step(self, step: Step) -> None:
        await self._run(lambda c: _insert(c, "archon_agent_work_order_steps", to_row(step)))

    async def list_steps(self, work_order_id: str) -> list[Step]:
        rows = await self._run(lambda c: c.execute(Q["list_steps"], {"id": work_order_id}).fetchall())
        return [from_row(Step, dict(r)) for r in rows]

    # the work order log

    async def append_log(self, entry: LogEntry) -> LogEntry:
        row = to_row(entry, exclude=frozenset({"id"}))

        def insert(conn: sqlite3.Connection) -> int:
            try:
                return int(conn.execute(Q["append_log"], row).lastrowid or 0)
            except sqlite3.IntegrityError:
                raise NotFound(f"work order {entry.agent_work_order_id} not found") from None

        return entry.model_copy(update={"id": await self._run(insert)})

    async def list_logs(
        self, work_order_id: str, after: int = 0, limit: int = 100, *,
        offset: int = 0, level: str | None = None, step: str | None = None,
    ) -> list[LogEntry]:
        terms = {"level": level, "step": step}
        query = Q["list_logs"].replace("{where}", _log_terms(terms))
        params = {"id": work_order_id, "after": after, "limit": limit, "offset": offset, **terms}
        rows = await self._run(lambda c: c.execute(query, params).fetchall())
        return [from_row(LogEntry, dict(r)) for r in rows]

    async def count_logs(self, work_order_id: str, *, level: str | None = None, step: str | None = None) -> int:
        terms = {"level": level, "step": step}
        query = Q["count_logs"].replace("{where}", _log_terms(terms))
        return int(await self._run(lambda c: c.execute(query, {"id": work_order_id, **terms}).fetchone()[0]))

    async def wait_for_logs(self, work_order_id: str, after: int, timeout: float) -> bool:
        async def has_after() -> bool:
            params = {"id": work_order_id, "after": after}
            return bool(await self._run(lambda c: c.execute(Q["has_logs_after"], params).fetchone()[0]))

        return await poll_for_logs(has_after, timeout)


def _log_terms(terms: dict[str, str | None]) -> str:
    """`AND level = :level` and the like for the filters given (names from our own dict, values bound)."""
    return "".join(f" AND {name} = :{name}" for name, value in terms.items() if value is not None)


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", row)


def _select_one(conn: sqlite3.Connection, table: str, key: str, value: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,)).fetchone()
    return dict(row) if row else None


def _update(
    conn: sqlite3.Connection, table: str, key: str, value: str, changes: dict[str, Any], guard: str
) -> int:
    columns = [name for name in changes if not name.startswith("_")]
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    cells = {name: to_cell(name, v, text_json=True) for name, v in changes.items()}
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = :_key{guard}"
    return conn.execute(sql, {**cells, "_key": value}).rowcount


def _list_query(status: Status | None, where: ListFilter, cursor: Cursor | None) -> tuple[str, dict[str, Any]]:
    """Only the filters asked for, as plain terms: `:x IS NULL OR ...` would keep SQLite off the indexes."""
    values = {
        "status": str(status) if status else None, "repo": where.repo_full_name, "issue": where.issue_number,
        "since": _utc(where.since), "until": _utc(where.until),
        "cursor_at": _utc(cursor.created_at) if cursor else None, "cursor_id": cursor.id if cursor else None,
    }
    chosen = [term for key, term in LIST_TERMS.items() if values[key] is not None]
    condition = f"WHERE {' AND '.join(chosen)}" if chosen else ""
    return Q["list_work_orders"].format(where=condition), values


def _utc(moment: datetime | None) -> str | None:
    """Times are stored as UTC text, compared as text: a bound must be UTC text too."""
    return iso(moment.astimezone(UTC)) if moment else None


def _add_missing_column(conn: sqlite3.Connection, alter: str) -> None:
    """SQLite has no ADD COLUMN IF NOT EXISTS: a duplicate column means the file is up to date."""
    try:
        conn.execute(alter)
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def _add_spend_rollup(conn: sqlite3.Connection) -> None:
    """The ledger's rollup per day (migration 016 on Postgres), for files made before it: created and filled from
    the ledger in one write transaction, once (the trigger is the mark; another process doing the same at once
    waits for the lock, then recomputes the same sums)."""
    if conn.execute(Q["spend_rollup_ready"]).fetchone() is not None:
        return
    try:
        conn.executescript(Q["spend_rollup"])
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def rollup_bounds(since: datetime, until: datetime) -> dict[str, str]:
    """daily_spend's parts for a UTC range: its whole days [first_day, last_day) read from the rollup, the partial
    days at either end, [since, low_until) and [high_since, until), from the ledger (empty at midnight)."""
    first = since if since == _midnight(since) else _midnight(since) + timedelta(days=1)
    last = _midnight(until)
    return {"since": iso(since), "until": iso(until), "low_until": iso(min(until, first)),
            "high_since": iso(max(first, last)), "first_day": first.date().isoformat(),
            "last_day": last.date().isoformat()}


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def delivery_row(delivery: Delivery) -> dict[str, Any]:
    """The insert's row, written out: on every delivery's path, where the generic `to_row` costs more."""
    received, processed = delivery.received_at, delivery.processed_at
    received_text = iso(received)
    return {
        "delivery_id": delivery.delivery_id, "event": delivery.event, "action": delivery.action,
        "repo_full_name": delivery.repo_full_name, "payload": delivery.payload_json(), "outcome": delivery.outcome,
        "received_at": received_text,
        "processed_at": received_text if processed is received else iso(processed) if processed else None,
    }
