"""The shared store: PostgreSQL through a psycopg pool; the queue is SQL functions (migrations/005)."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, LiteralString, cast

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from bot.control import not_cancellable, not_retryable
from bot.errors import ConfigError, Conflict, LeaseLost, NotFound, StoreUnavailable
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
from bot.store.batch import Batched
from bot.store.log_watch import LogWatch
from bot.store.queries import load
from bot.store.remote import CHANNEL, MIGRATE_HINT, REPOSITORY_MUTABLE, checked, is_uuid, jsonable, repository_from
from bot.store.rows import JSON_FIELDS, from_row, to_cell, to_row

log = logging.getLogger(__name__)
Q = cast(dict[str, LiteralString], load("postgres.sql"))  # our own package file, not user input
WORK_ORDERS = "archon_agent_work_orders"
REPOSITORIES = "archon_configured_repositories"
STEPS = "archon_agent_work_order_steps"
DELIVERY_COLUMNS = ("delivery_id", "event", "action", "repo_full_name", "payload", "outcome", "received_at",
                    "processed_at")
Row = dict[str, Any]
Query = LiteralString | sql.Composed
Connection = psycopg.AsyncConnection[DictRow]
# Connections fit Supabase's transaction pooler too: no server-side prepared statements.
CONNECTION_OPTIONS: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, "prepare_threshold": None}


# A connection used this recently is handed out without a round trip to check it (under load that check
# cost a sixth of the throughput). One idle longer is checked, so a database that came back after an outage
# is noticed at once; a connection that broke within the window fails its one query and the pool drops it.
TRUSTED_FOR = 1.0


class RecentlyUsed:
    """The pool's check on checkout: a round trip only for a connection idle more than `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last_out: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()

    async def __call__(self, conn: Connection) -> None:
        now, last = time.monotonic(), self.last_out.get(conn)
        if last is None or now - last >= self.seconds or conn.closed:
            await AsyncConnectionPool.check_connection(conn)
        self.last_out[conn] = now


class PostgresStore:
    """Store on PostgreSQL (any, including a Supabase project's connection string)."""

    # `timeout`: how long a request waits for a connection. Short, so that while the database is down a
    # webhook answers 503 well inside GitHub's 10 s delivery timeout instead of timing out itself.
    def __init__(self, database_url: str, min_size: int = 1, max_size: int = 10, timeout: float = 3.0,
                 connect_timeout: float = 10.0, trusted_for: float = TRUSTED_FOR) -> None:
        try:
            conninfo_to_dict(database_url)  # a malformed URL is a setting to fix, not an outage to wait out
        except psycopg.ProgrammingError as exc:
            raise ConfigError("DATABASE_URL", f"not a Postgres connection string ({str(exc).strip()})") from None
        self.database_url = database_url
        self.min_size, self.max_size, self.timeout = min_size, max_size, timeout
        self._record = Batched(self._insert_deliveries)
        self.connect_timeout = connect_timeout
        self.trusted_for = trusted_for
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._logs = LogWatch(self._listen_connection, Q["listen_logs"])

    async def open(self) -> None:
        await self._probe()
        pool = AsyncConnectionPool(
            self.database_url, min_size=self.min_size, max_size=self.max_size, timeout=self.timeout,
            open=False, kwargs=CONNECTION_OPTIONS, connection_class=Connection,
            check=RecentlyUsed(self.trusted_for), name="agent-work-orders",
            # psycopg retries a lost connection with a doubling delay for 5 minutes, so after an outage the
            # pool could wait minutes before noticing the database is back; giving up early lets the next
            # request start a fresh attempt at once
            reconnect_timeout=self.timeout,
        )
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreUnavailable(f"cannot connect to Postgres within {self.connect_timeout:g}s") from exc
        self._pool = pool

    async def _probe(self) -> None:
        """Connect once, so a store that cannot start says why (refused, password, unknown database)."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.database_url, connect_timeout=self._connect_timeout)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to Postgres: {exc}") from exc
        await conn.close()

    @property
    def _connect_timeout(self) -> int:
        return max(1, round(self.connect_timeout))

    async def close(self) -> None:
        await self._logs.close()
        await self._drop_listener()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def health(self) -> StoreHealth:
        """Never raises: unreachable is "unhealthy", reachable but not migrated has tables_exist false."""
        try:
            row = await self._one(Q["health"], timeout=min(self.timeout, 2.0))
        except StoreUnavailable as exc:
            return StoreHealth("unhealthy", False, hint=f"Postgres is unreachable: {exc}")
        ready = bool(row and row["ready"])
        return StoreHealth("healthy", ready, hint=None if ready else MIGRATE_HINT)

    async def wait_for_work(self, timeout: float) -> None:
        """Return on a NOTIFY from the queue (new or released work) or after `timeout` seconds.

        One caller at a time (the worker's claim loop). A broken LISTEN connection degrades to sleeping,
        so the caller falls back to polling; it is reopened on the next call.
        """
        try:
            listener = await self._listening()
            async for _ in listener.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.OperationalError as exc:
            log.warning("LISTEN %s failed, polling instead: %s", CHANNEL, exc)
            await self._drop_listener()
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            # woken another way mid-wait: the connection may be mid-protocol, so start afresh next time
            await asyncio.shield(self._drop_listener())
            raise

    async def _listening(self) -> psycopg.AsyncConnection[Any]:
        if self._listener is None or self._listener.closed:
            self._listener = await psycopg.AsyncConnection.connect(
                self.database_url, autocommit=True, connect_timeout=self._connect_timeout)
            await self._listener.execute(Q["listen"])
        return self._listener

    async def _listen_connection(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True, connect_timeout=self._connect_timeout)

    async def _drop_listener(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    # deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        return await self._record(delivery)

    async def _insert_deliveries(self, deliveries: list[Delivery]) -> list[bool | BaseException]:
        """One statement for them all; of two with one id, the first is the one recorded. A row the database
        refuses fails the statement: then each is inserted alone, so only that delivery fails."""
        try:
            return list(await self._insert_together(deliveries))
        except psycopg.DataError:
            if len(deliveries) == 1:
                raise
        return [await _outcome(self._insert_together([delivery])) for delivery in deliveries]

    async def _insert_together(self, deliveries: list[Delivery]) -> list[bool]:
        columns: dict[str, list[Any]] = {name: [] for name in DELIVERY_COLUMNS}
        for delivery in deliveries:
            for name in DELIVERY_COLUMNS:
                columns[name].append(getattr(delivery, name) if name != "payload" else delivery.payload_json())
        new = {row["delivery_id"] for row in await self._all(Q["insert_deliveries"], columns)}
        results = []
        for delivery in deliveries:
            results.append(delivery.delivery_id in new)
            new.discard(delivery.delivery_id)
        return results

    async def unprocessed_deliveries(self, limit: int = 100) -> list[Delivery]:
        return [from_row(Delivery, r) for r in await self._all(Q["unprocessed_deliveries"], {"limit": limit})]

    async def mark_delivery(self, delivery_id: str, outcome: str) -> None:
        await self._execute(Q["mark_delivery"], {"delivery_id": delivery_id, "outcome": outcome})

    async def list_deliveries(self, limit: int = 100, outcome: str | None = None, offset: int = 0) -> list[Delivery]:
        rows = await self._all(Q["list_deliveries"], {"limit": limit, "outcome": outcome, "offset": offset})
        return [from_row(Delivery, r) for r in rows]

    async def prune_deliveries(self, before: datetime) -> int:
        return await self._execute(Q["prune_deliveries"], {"before": before})

    async def get_delivery(self, delivery_id: str) -> Delivery:
        row = await self._one(Q["get_delivery"], {"id": delivery_id})
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return from_row(Delivery, row)

    # repositories

    async def add_repository(self, repo: Repository) -> Repository:
        if repo.id and not is_uuid(repo.id):
            raise ValueError(f"repository id {repo.id!r} is not a UUID")
        row = to_row(repo, text_json=False, exclude=frozenset() if repo.id else frozenset({"id"}))
        return repository_from(_present(await self._one(_insert(REPOSITORIES, row), _cells(row))))

    async def list_repositories(self) -> list[Repository]:
        return [repository_from(r) for r in await self._all(Q["list_repositories"])]

    async def get_repository(self, repo_id: str) -> Repository:
        row = await self._one(Q["get_repository"], {"id": repo_id}) if is_uuid(repo_id) else None
        if row is None:
            raise NotFound(f"repository {repo_id} not found")
        return repository_from(row)

    async def update_repository(self, repo_id: str, changes: dict[str, Any]) -> Repository:
        changes = {**checked(changes, REPOSITORY_MUTABLE), "updated_at": utcnow()}
        row = await self._update(REPOSITORIES, "id", repo_id, changes) if is_uuid(repo_id) else None
        if row is None:
            raise NotFound(f"repository {repo_id} not found")
        return repository_from(row)

    async def delete_repository(self, repo_id: str) -> None:
        count = await self._execute(Q["delete_repository"], {"id": repo_id}) if is_uuid(repo_id) else 0
        if count == 0:
            raise NotFound(f"repository {repo_id} not found")

    # work orders

    async def create_work_order(self, work_order: WorkOrder) -> WorkOrder:
        row = to_row(work_order, text_json=False)
        return from_row(WorkOrder, _present(await self._one(_insert(WORK_ORDERS, row), _cells(row))))

    async def get_work_order(self, work_order_id: str) -> WorkOrder:
        row = await self._one(Q["get_work_order"], {"id": work_order_id})
        if row is None:
            raise NotFound(f"work order {work_order_id} not found")
        return from_row(WorkOrder, row)

    async def list_work_orders(
        self, status: Status | None = None, limit: int = 100, *,
        where: ListFilter = ALL_WORK_ORDERS, cursor: Cursor | None = None, offset: int = 0,
    ) -> list[WorkOrder]:
        params = {
            "status": str(status) if status else None, "repo": where.repo_full_name, "issue": where.issue_number,
            "since": where.since, "until": where.until, "limit": limit, "offset": offset,
            "cursor_at": cursor.created_at if cursor else None, "cursor_id": cursor.id if cursor else None,
        }
        return [from_row(WorkOrder, r) for r in await self._all(Q["list_work_orders"], params)]

    async def update_work_order(
        self, work_order_id: str, changes: dict[str, Any], owner: str | None = None
    ) -> WorkOrder:
        changes = {**checked(changes, WORK_ORDER_MUTABLE), "updated_at": utcnow()}
        row = await self._update(WORK_ORDERS, "agent_work_order_id", work_order_id, changes, owner)
        if row is None:
            await self.get_work_order(work_order_id)
            raise LeaseLost(f"work order {work_order_id} is no longer leased by {owner}")
        return from_row(WorkOrder, row)

    async def queue_stats(self) -> QueueStats:
        counts = {row["status"]: row["n"] for row in await self._all(Q["status_counts"])}
        head = _present(await self._one(Q["queue_head"]))
        return QueueStats.of(counts, head["oldest"], head["expired"], head["clock"])

    async def spend_by_repository(
        self, names: list[str], since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, float]:
        bounds = {"since": since or EARLIEST, "until": until or LATEST}
        found = await self._all(Q["spend_by_repository"], {"names": names, **bounds})
        return {name: 0.0 for name in names} | {row["repo_full_name"]: float(row["spent"]) for row in found}

    async def daily_spend(
        self, since: datetime, until: datetime, repository: str | None = None,
    ) -> list[DailySpend]:
        since, until = spend_range(since, until)
        rows = await self._all(Q["daily_spend"], {"since": since, "until": until, "repo": repository})
        return [DailySpend.of(r) for r in rows]

    async def claim(self, worker_id: str, lease_seconds: float) -> WorkOrder | None:
        row = await self._one(Q["claim"], {"worker_id": worker_id, "lease_seconds": float(lease_seconds)})
        return from_row(WorkOrder, row).claimed_from(row["reclaimed_from"]) if row else None

    async def heartbeat(self, work_order_id: str, worker_id: str, lease_seconds: float) -> bool:
        params = {"id": work_order_id, "worker_id": worker_id, "lease_seconds": float(lease_seconds)}
        return bool(_present(await self._one(Q["heartbeat"], params))["renewed"])

    async def finish(
        self, work_order_id: str, worker_id: str, status: Status, changes: dict[str, Any]
    ) -> WorkOrder:
        params = {
            "id": work_order_id, "worker_id": worker_id, "status": str(status),
            "changes": Jsonb(jsonable(checked(changes, WORK_ORDER_MUTABLE))),
        }
        row = await self._one(Q["finish"], params)
        if row is None:
            await self.get_work_order(work_order_id)
            raise LeaseLost(f"work order {work_order_id} is no longer leased by {worker_id}")
        return from_row(WorkOrder, row)

    async def fail_exhausted(self) -> list[WorkOrder]:
        return [from_row(WorkOrder, r) for r in await self._all(Q["fail_exhausted"])]

    async def release(self, work_order_id: str, worker_id: str) -> bool:
        params = {"id": work_order_id, "worker_id": worker_id}
        return bool(_present(await self._one(Q["release"], params))["released"])

    async def pending_reports(self, limit: int = 20) -> list[WorkOrder]:
        return [from_row(WorkOrder, r) for r in await self._all(Q["pending_reports"], {"limit": limit})]

    async def cancel_work_order(self, work_order_id: str) -> WorkOrder:
        row = await self._one(Q["cancel"], {"id": work_order_id})
        if row is None:
            raise not_cancellable(await self.get_work_order(work_order_id))
        return from_row(WorkOrder, row)

    async def cancel_requests(self, work_order_ids: list[str]) -> list[str]:
        if not work_order_ids:
            return []
        row = _present(await self._one(Q["cancel_requests"], {"ids": list(work_order_ids)}))
        return list(row["ids"] or [])

    async def retry_work_order(self, work_order_id: str, attempts: int) -> WorkOrder:
        row = await self._one(Q["retry"], {"id": work_order_id, "attempts": attempts})
        if row is None:
            raise not_retryable(await self.get_work_order(work_order_id))
        return from_row(WorkOrder, row)

    async def mark_reported(self, work_order: WorkOrder) -> bool:
        params = {"id": work_order.id, "updated_at": work_order.updated_at}
        return bool(_present(await self._one(Q["mark_reported"], params))["marked"])

    # admission

    async def admission_load(self, repo_full_name: str, issue_number: int, actor: str, since: datetime) -> Load:
        params = {"repo": repo_full_name, "issue": issue_number, "actor": actor, "since": since}
        row = _present(await self._one(Q["admission_load"], params))
        return Load(int(row["issue_active"]), int(row["actor_recent"]), int(row["repo_recent"]), int(row["pending"]))

    async def note_refusal(self, repo_full_name: str, issue_number: int, window_seconds: float) -> bool:
        params = {"repo": repo_full_name, "issue": issue_number, "window": float(window_seconds)}
        return bool(_present(await self._one(Q["note_refusal"], params))["say"])

    async def spent_since(self, repo_full_name: str | None, since: datetime) -> float:
        return float(_present(await self._one(Q["spent_since"], {"repo": repo_full_name, "since": since}))["spent"])

    # steps

    async def add_step(self, step: Step) -> None:
        row = to_row(step, text_json=False)
        await self._one(_insert(STEPS, row), _cells(row))

    async def list_steps(self, work_order_id: str) -> list[Step]:
        return [from_row(Step, r) for r in await self._all(Q["list_steps"], {"id": work_order_id})]

    # the work order log

    async def append_log(self, entry: LogEntry) -> LogEntry:
        row = to_row(entry, text_json=False, exclude=frozenset({"id"}))
        return entry.model_copy(update={"id": _present(await self._one(Q["append_log"], _cells(row)))["id"]})

    async def list_logs(
        self, work_order_id: str, after: int = 0, limit: int = 100, *,
        offset: int = 0, level: str | None = None, step: str | None = None,
    ) -> list[LogEntry]:
        params = {"id": work_order_id, "after": after, "limit": limit, "offset": offset, "level": level, "step": step}
        return [from_row(LogEntry, r) for r in await self._all(Q["list_logs"], params)]

    async def count_logs(self, work_order_id: str, *, level: str | None = None, step: str | None = None) -> int:
        params = {"id": work_order_id, "level": level, "step": step}
        return int(_present(await self._one(Q["count_logs"], params))["total"])

    async def wait_for_logs(self, work_order_id: str, after: int, timeout: float) -> bool:
        async def has_after() -> bool:
            return bool(_present(await self._one(Q["has_logs_after"], {"id": work_order_id, "after": after}))["found"])

        return await self._logs.wait(work_order_id, has_after, timeout)

    # plumbing

    async def _update(
        self, table: str, key: str, value: str, changes: Row, owner: str | None = None
    ) -> Row | None:
        guard = sql.SQL(Q["lease_guard"]) if owner else sql.SQL("")
        query = sql.SQL(Q["update_row"]).format(
            table=sql.Identifier(table), key=sql.Identifier(key), guard=guard,
            assignments=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                                           for c in changes),
        )
        guarded = {"_owner": owner} if owner else {}
        return await self._one(query, {**_cells(changes), "_key": value, **guarded})

    async def _one(self, query: Query, params: Row | None = None, timeout: float | None = None) -> Row | None:
        async with self._connection(timeout) as conn:
            return await (await conn.execute(query, params)).fetchone()

    async def _all(self, query: Query, params: Row | None = None) -> list[Row]:
        async with self._connection() as conn:
            return await (await conn.execute(query, params)).fetchall()

    async def _execute(self, query: Query, params: Row | None = None) -> int:
        async with self._connection() as conn:
            return (await conn.execute(query, params)).rowcount

    @asynccontextmanager
    async def _connection(self, timeout: float | None = None) -> AsyncIterator[Connection]:
        """A pooled connection; psycopg's errors become the bot's, once, here."""
        if self._pool is None:
            raise StoreUnavailable("the Postgres store is not open")
        try:
            async with self._pool.connection(timeout) as conn:
                yield conn
        except errors.UniqueViolation as exc:
            raise Conflict(_detail(exc)) from exc
        except errors.ForeignKeyViolation as exc:
            raise NotFound(_detail(exc)) from exc
        except errors.CheckViolation as exc:
            raise ValueError(exc.diag.message_primary or str(exc)) from exc
        except (errors.UndefinedTable, errors.UndefinedFunction, errors.UndefinedColumn) as exc:
            missing = exc.diag.message_primary
            raise StoreUnavailable(f"the database is not migrated ({missing}): {MIGRATE_HINT}") from exc
        except (psycopg.OperationalError, PoolTimeout, PoolClosed) as exc:
            raise StoreUnavailable(f"Postgres: {exc}") from exc


def _insert(table: str, row: Row) -> sql.Composed:
    return sql.SQL(Q["insert_row"]).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, row)),
        values=sql.SQL(", ").join(map(sql.Placeholder, row)),
    )


def _cells(row: Row) -> Row:
    """Parameters for psycopg: enums as values, JSON columns wrapped as jsonb."""
    cells = {name: to_cell(name, value, text_json=False) for name, value in row.items()}
    return {name: Jsonb(v) if name in JSON_FIELDS else v for name, v in cells.items()}


def _present(row: Row | None) -> Row:
    if row is None:  # a statement with RETURNING, or a function returning a value, always has a row
        raise StoreUnavailable("Postgres returned no row where one was expected")
    return row


def _detail(exc: psycopg.Error) -> str:
    return exc.diag.message_detail or exc.diag.message_primary or str(exc)


async def _outcome(inserting: Awaitable[list[bool]]) -> bool | BaseException:
    """One delivery's insert: whether it was new, or the error that is its caller's alone."""
    try:
        [inserted] = await inserting
    except psycopg.DataError as exc:
        return exc
    return inserted
