"""The store over a Supabase project's REST API (PostgREST via supabase-py); the queue is RPC calls."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol

import httpx
from postgrest import APIError, APIResponse
from postgrest.types import CountMethod, ReturnMethod
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from bot.control import not_cancellable, not_retryable
from bot.errors import Conflict, LeaseLost, NotFound, StoreUnavailable
from bot.models import WORK_ORDER_MUTABLE, Delivery, LogEntry, Repository, Status, Step, WorkOrder, utcnow
from bot.store import (
    ALL_WORK_ORDERS,
    EARLIEST,
    Cursor,
    DailySpend,
    ListFilter,
    Load,
    QueueStats,
    StoreHealth,
    spend_range,
)
from bot.store.log_watch import poll_for_logs
from bot.store.remote import MIGRATE_HINT, REPOSITORY_MUTABLE, checked, is_uuid, jsonable, repository_from
from bot.store.rows import from_row

WORK_ORDERS = "archon_agent_work_orders"
REPOSITORIES = "archon_configured_repositories"
STEPS = "archon_agent_work_order_steps"
DELIVERIES = "archon_agent_work_order_deliveries"
LOGS = "archon_agent_work_order_logs"
TABLES = (REPOSITORIES, WORK_ORDERS, STEPS, DELIVERIES)
Row = dict[str, Any]
PAGE = 1000  # rows of one RPC answer: Supabase's default max-rows, so a longer answer is read in pages
# PostgREST reports a missing table or function with these codes (its own, or Postgres's).
NOT_MIGRATED = frozenset({"PGRST205", "PGRST202", "42P01", "42883"})


class Executable(Protocol):
    async def execute(self) -> APIResponse: ...


class SupabaseStore:
    """Store on Supabase through PostgREST with the service role key (which bypasses RLS)."""

    def __init__(self, url: str, service_key: str, *, timeout: float = 10.0, retry: bool = True) -> None:
        self.url = url
        self._key = service_key
        self.timeout = timeout
        self.retry = retry  # PostgREST retries GETs that failed transiently (503/520, network)
        self._http: httpx.AsyncClient | None = None
        self._client: AsyncClient | None = None

    async def open(self) -> None:
        self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=True)
        options = AsyncClientOptions(
            httpx_client=self._http, postgrest_client_retry=self.retry,
            auto_refresh_token=False, persist_session=False,
        )
        self._client = await acreate_client(self.url, self._key, options=options)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._client = None

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise StoreUnavailable("the Supabase store is not open")
        return self._client

    async def health(self) -> StoreHealth:
        """Never raises: unreachable is "unhealthy", reachable but not migrated has tables_exist false."""
        try:
            for table in TABLES:
                await self.client.table(table).select("*").limit(1).execute()
        except APIError as exc:
            if exc.code in NOT_MIGRATED:
                return StoreHealth("healthy", False, hint=MIGRATE_HINT)
            return StoreHealth("unhealthy", False, hint=f"Supabase answered {exc.code}: {exc.message}")
        except (httpx.HTTPError, StoreUnavailable) as exc:
            return StoreHealth("unhealthy", False, hint=f"Supabase is unreachable: {exc!r}")
        return StoreHealth("healthy", True)

    # deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        # an outcome decided on receipt is recorded with the delivery; otherwise the columns are left to intake
        row = delivery.model_dump(mode="json", exclude=None if delivery.outcome else {"outcome", "processed_at"})
        query = self.client.table(DELIVERIES).upsert(row, ignore_duplicates=True, on_conflict="delivery_id")
        return bool(await _data(query))

    async def unprocessed_deliveries(self, limit: int = 100) -> list[Delivery]:
        query = self.client.table(DELIVERIES).select("*").is_("processed_at", "null").order("received_at")
        return [from_row(Delivery, r) for r in await _data(query.limit(limit))]

    async def mark_delivery(self, delivery_id: str, outcome: str) -> None:
        changes = jsonable({"outcome": outcome, "processed_at": utcnow()})
        await _data(self.client.table(DELIVERIES).update(changes).eq("delivery_id", delivery_id))

    async def list_deliveries(self, limit: int = 100, outcome: str | None = None, offset: int = 0) -> list[Delivery]:
        columns = "delivery_id,event,action,repo_full_name,outcome,received_at,processed_at"
        query = self.client.table(DELIVERIES).select(columns)
        if outcome is not None:  # the API lets only letters through, so no LIKE wildcard can be in it
            query = query.like("outcome", f"{outcome}*")
        query = query.order("received_at", desc=True).order("delivery_id").limit(limit)
        return [from_row(Delivery, r) for r in await _data(query.offset(offset) if offset else query)]

    async def prune_deliveries(self, before: datetime) -> int:
        # minimal: a deleted row's payload is not worth sending back; the count says how many went
        query = self.client.table(DELIVERIES).delete(count=CountMethod.exact, returning=ReturnMethod.minimal)
        return (await _response(query.lt("received_at", before.isoformat()))).count or 0

    async def get_delivery(self, delivery_id: str) -> Delivery:
        rows = await _data(self.client.table(DELIVERIES).select("*").eq("delivery_id", delivery_id))
        return from_row(Delivery, _only(rows, f"delivery {delivery_id}"))

    # repositories

    async def add_repository(self, repo: Repository) -> Repository:
        if repo.id and not is_uuid(repo.id):
            raise ValueError(f"repository id {repo.id!r} is not a UUID")
        row = repo.model_dump(mode="json", exclude=set() if repo.id else {"id"})
        return repository_from((await _data(self.client.table(REPOSITORIES).insert(row)))[0])

    async def list_repositories(self) -> list[Repository]:
        query = self.client.table(REPOSITORIES).select("*").order("created_at").order("id")
        return [repository_from(r) for r in await _data(query)]

    async def get_repository(self, repo_id: str) -> Repository:
        rows = await _data(self.client.table(REPOSITORIES).select("*").eq("id", repo_id)) if is_uuid(repo_id) else []
        return repository_from(_only(rows, f"repository {repo_id}"))

    async def update_repository(self, repo_id: str, changes: dict[str, Any]) -> Repository:
        values = jsonable({**checked(changes, REPOSITORY_MUTABLE), "updated_at": utcnow()})
        query = self.client.table(REPOSITORIES).update(values).eq("id", repo_id)
        rows = await _data(query) if is_uuid(repo_id) else []
        return repository_from(_only(rows, f"repository {repo_id}"))

    async def delete_repository(self, repo_id: str) -> None:
        rows = await _data(self.client.table(REPOSITORIES).delete().eq("id", repo_id)) if is_uuid(repo_id) else []
        _only(rows, f"repository {repo_id}")

    # work orders

    async def create_work_order(self, work_order: WorkOrder) -> WorkOrder:
        rows = await _data(self.client.table(WORK_ORDERS).insert(work_order.model_dump(mode="json")))
        return from_row(WorkOrder, rows[0])

    async def get_work_order(self, work_order_id: str) -> WorkOrder:
        rows = await _data(self.client.table(WORK_ORDERS).select("*").eq("agent_work_order_id", work_order_id))
        return from_row(WorkOrder, _only(rows, f"work order {work_order_id}"))

    async def list_work_orders(
        self, status: Status | None = None, limit: int = 100, *,
        where: ListFilter = ALL_WORK_ORDERS, cursor: Cursor | None = None, offset: int = 0,
    ) -> list[WorkOrder]:
        """The Postgres store's query in PostgREST's words; the same indexes (migration 009) serve it."""
        query = self.client.table(WORK_ORDERS).select("*")
        for column, value in (("status", str(status) if status else None), ("repo_full_name", where.repo_full_name),
                              ("issue_number", where.issue_number)):
            query = query.eq(column, value) if value is not None else query
        if where.since is not None:
            query = query.gte("created_at", where.since.isoformat())
        if where.until is not None:
            query = query.lt("created_at", where.until.isoformat())
        if cursor is not None:
            at, key = f'"{cursor.created_at.isoformat()}"', f'"{cursor.id}"'
            query = query.or_(f"created_at.lt.{at},and(created_at.eq.{at},agent_work_order_id.lt.{key})")
        query = query.order("created_at", desc=True).order("agent_work_order_id", desc=True).limit(limit)
        rows = await _data(query.offset(offset) if offset else query)
        return [from_row(WorkOrder, r) for r in rows]

    async def update_work_order(
        self, work_order_id: str, changes: dict[str, Any], owner: str | None = None
    ) -> WorkOrder:
        values = jsonable({**checked(changes, WORK_ORDER_MUTABLE), "updated_at": utcnow()})
        query = self.client.table(WORK_ORDERS).update(values).eq("agent_work_order_id", work_order_id)
        if owner is not None:
            query = query.eq("lease_owner", owner).eq("status", str(Status.RUNNING))
        return await self._leased(await _data(query), work_order_id, owner)

    async def queue_stats(self) -> QueueStats:
        """The Postgres store's reads as PostgREST requests (counted with count=exact, no rows sent), at once."""
        def counted(status: Status) -> Executable:
            query = self.client.table(WORK_ORDERS).select("agent_work_order_id", count=CountMethod.exact, head=True)
            return query.eq("status", str(status))

        expired = counted(Status.RUNNING).lt("lease_expires_at", utcnow().isoformat())  # type: ignore[attr-defined]
        oldest = self.client.table(WORK_ORDERS).select("created_at").eq("status", "pending").order("created_at")
        answers = await asyncio.gather(*(_response(counted(s)) for s in Status), _response(expired),
                                       _data(oldest.limit(1)))
        counts = {str(s): a.count or 0 for s, a in zip(Status, answers, strict=False)}
        head = answers[-1]
        # PostgREST tells no time: this machine's clock (NTP keeps it within the metrics' minute of the database's)
        return QueueStats.of(counts, datetime.fromisoformat(head[0]["created_at"]) if head else None,
                             answers[-2].count or 0, utcnow())

    async def spend_by_repository(
        self, names: list[str], since: datetime | None = None, until: datetime | None = None,
    ) -> dict[str, float]:
        """PostgREST sums nothing without aggregates enabled: the daily caps' RPC (spend at or after a time), per
        repository, and for an `until` the same again from there, taken off."""
        async def spent(name: str) -> float:
            total = await self.spent_since(name, since or EARLIEST)
            return total - await self.spent_since(name, until) if until else total

        return dict(zip(names, await asyncio.gather(*(spent(n) for n in names)), strict=True))

    async def daily_spend(
        self, since: datetime, until: datetime, repository: str | None = None,
    ) -> list[DailySpend]:
        """Migration 013's function (PostgREST sums nothing), in pages: a year of days for many repositories is more
        rows than the project's max-rows lets one answer carry; ordered on (day, repository), which no two rows share,
        so the pages are exact."""
        since, until = spend_range(since, until)
        params = {"p_since": since.isoformat(), "p_until": until.isoformat(), "p_repo": repository}
        rows: list[Row] = []
        while True:
            query = self.client.rpc("archon_agent_work_order_daily_spend", params)
            query = query.order("day", desc=True).order("repo_full_name").range(len(rows), len(rows) + PAGE - 1)
            page = await _data(query)
            rows += page
            if len(page) < PAGE:
                return [DailySpend.of(r) for r in rows]

    async def claim(self, worker_id: str, lease_seconds: float) -> WorkOrder | None:
        params = {"p_worker_id": worker_id, "p_lease_seconds": float(lease_seconds)}
        rows = await _data(self.client.rpc("archon_agent_work_order_claim_lease", params))
        return from_row(WorkOrder, rows[0]["work_order"]).claimed_from(rows[0]["reclaimed_from"]) if rows else None

    async def heartbeat(self, work_order_id: str, worker_id: str, lease_seconds: float) -> bool:
        params = {"p_work_order_id": work_order_id, "p_worker_id": worker_id, "p_lease_seconds": float(lease_seconds)}
        return bool(await _data(self.client.rpc("archon_agent_work_order_heartbeat", params)))

    async def finish(
        self, work_order_id: str, worker_id: str, status: Status, changes: dict[str, Any]
    ) -> WorkOrder:
        params = {
            "p_work_order_id": work_order_id, "p_worker_id": worker_id, "p_status": str(status),
            "p_changes": jsonable(checked(changes, WORK_ORDER_MUTABLE)),
        }
        rows = await _data(self.client.rpc("archon_agent_work_order_finish", params))
        return await self._leased(rows, work_order_id, worker_id)

    async def fail_exhausted(self) -> list[WorkOrder]:
        rows = await _data(self.client.rpc("archon_agent_work_order_fail_exhausted", {}))
        return [from_row(WorkOrder, r) for r in rows]

    async def release(self, work_order_id: str, worker_id: str) -> bool:
        params = {"p_work_order_id": work_order_id, "p_worker_id": worker_id}
        return bool(await _data(self.client.rpc("archon_agent_work_order_release", params)))

    async def pending_reports(self, limit: int = 20) -> list[WorkOrder]:
        rows = await _data(self.client.rpc("archon_agent_work_order_pending_reports", {"p_limit": limit}))
        return [from_row(WorkOrder, r) for r in rows]

    async def cancel_work_order(self, work_order_id: str) -> WorkOrder:
        rows = await _data(self.client.rpc("archon_agent_work_order_cancel", {"p_work_order_id": work_order_id}))
        if not rows:
            raise not_cancellable(await self.get_work_order(work_order_id))
        return from_row(WorkOrder, rows[0])

    async def cancel_requests(self, work_order_ids: list[str]) -> list[str]:
        if not work_order_ids:
            return []
        params = {"p_work_order_ids": list(work_order_ids)}
        return [str(i) for i in await _data(self.client.rpc("archon_agent_work_order_cancel_requests", params)) or []]

    async def retry_work_order(self, work_order_id: str, attempts: int) -> WorkOrder:
        params = {"p_work_order_id": work_order_id, "p_attempts": attempts}
        rows = await _data(self.client.rpc("archon_agent_work_order_retry", params))
        if not rows:
            raise not_retryable(await self.get_work_order(work_order_id))
        return from_row(WorkOrder, rows[0])

    async def mark_reported(self, work_order: WorkOrder) -> bool:
        params = {"p_work_order_id": work_order.id, "p_updated_at": jsonable({"t": work_order.updated_at})["t"]}
        return bool(await _data(self.client.rpc("archon_agent_work_order_mark_reported", params)))

    async def wait_for_work(self, timeout: float) -> None:
        """PostgREST carries no notifications: workers poll (Realtime could wake them; not needed yet)."""
        await asyncio.sleep(timeout)

    async def _leased(self, rows: list[Row], work_order_id: str, owner: str | None) -> WorkOrder:
        """The changed row; else NotFound if there is no such work order, LeaseLost if owner lost it."""
        if rows:
            return from_row(WorkOrder, rows[0])
        await self.get_work_order(work_order_id)
        raise LeaseLost(f"work order {work_order_id} is no longer leased by {owner}")

    # admission

    async def admission_load(self, repo_full_name: str, issue_number: int, actor: str, since: datetime) -> Load:
        params = {"p_repo_full_name": repo_full_name, "p_issue_number": issue_number, "p_actor": actor,
                  "p_since": since.isoformat()}
        row = _only(await _data(self.client.rpc("archon_agent_work_order_admission_load", params)), "admission load")
        return Load(int(row["issue_active"]), int(row["actor_recent"]), int(row["repo_recent"]), int(row["pending"]))

    async def note_refusal(self, repo_full_name: str, issue_number: int, window_seconds: float) -> bool:
        params = {"p_repo_full_name": repo_full_name, "p_issue_number": issue_number,
                  "p_window_seconds": float(window_seconds)}
        return bool(await _data(self.client.rpc("archon_agent_work_order_note_refusal", params)))

    async def spent_since(self, repo_full_name: str | None, since: datetime) -> float:
        params = {"p_repo_full_name": repo_full_name, "p_since": since.isoformat()}
        return float(await _data(self.client.rpc("archon_agent_work_order_spent_since", params)) or 0)

    # steps

    async def add_step(self, step: Step) -> None:
        await _data(self.client.table(STEPS).insert(step.model_dump(mode="json")))

    async def list_steps(self, work_order_id: str) -> list[Step]:
        query = self.client.table(STEPS).select("*").eq("agent_work_order_id", work_order_id)
        return [from_row(Step, r) for r in await _data(query.order("step_order").order("executed_at"))]

    # the work order log

    async def append_log(self, entry: LogEntry) -> LogEntry:
        rows = await _data(self.client.table(LOGS).insert(entry.model_dump(mode="json", exclude={"id"})))
        return entry.model_copy(update={"id": rows[0]["id"]})

    async def list_logs(
        self, work_order_id: str, after: int = 0, limit: int = 100, *,
        offset: int = 0, level: str | None = None, step: str | None = None,
    ) -> list[LogEntry]:
        query = self.client.table(LOGS).select("*").eq("agent_work_order_id", work_order_id).gt("id", after)
        for column, value in (("level", level), ("step", step)):
            if value is not None:
                query = query.eq(column, value)
        rows = await _data(query.order("id").range(offset, offset + limit - 1)) if limit > 0 else []
        return [from_row(LogEntry, r) for r in rows]

    async def count_logs(self, work_order_id: str, *, level: str | None = None, step: str | None = None) -> int:
        query = self.client.table(LOGS).select("id", count=CountMethod.exact).eq("agent_work_order_id", work_order_id)
        for column, value in (("level", level), ("step", step)):
            if value is not None:
                query = query.eq(column, value)
        return (await _response(query.limit(1))).count or 0

    async def wait_for_logs(self, work_order_id: str, after: int, timeout: float) -> bool:
        async def has_after() -> bool:
            return bool(await self.list_logs(work_order_id, after, 1))

        return await poll_for_logs(has_after, timeout)


async def _data(request: Executable) -> Any:
    return (await _response(request)).data


async def _response(request: Executable) -> Any:
    """Run one PostgREST request; its errors become the bot's, once, here."""
    try:
        return await request.execute()
    except APIError as exc:
        raise _translated(exc) from exc
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"Supabase: {exc!r}") from exc


def _translated(exc: APIError) -> Exception:
    detail = exc.details or exc.message or "no detail"
    if exc.code == "23505":
        return Conflict(str(detail))
    if exc.code == "23503":
        return NotFound(str(detail))
    if exc.code == "23514":
        return ValueError(str(detail))
    if exc.code in NOT_MIGRATED:
        return StoreUnavailable(f"the database is not migrated ({exc.message}): {MIGRATE_HINT}")
    return StoreUnavailable(f"Supabase: {exc.code}: {exc.message}")


def _only(rows: list[Row], what: str) -> Row:
    if not rows:
        raise NotFound(f"{what} not found")
    return rows[0]
