"""The pool checks a connection on checkout only if it sat idle: no round trip per query under load, and a
database that dropped its connections (a restart, a failover) is still noticed by the next request."""

from __future__ import annotations

import psycopg
import pytest

from bot.errors import StoreUnavailable
from bot.store.postgres import PostgresStore

from .conftest import empty_tables


def drop_connections(url: str) -> int:
    """What a database restart does to the pool: every connection to this database is closed server-side."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


async def open_store(url: str, trusted_for: float) -> PostgresStore:
    empty_tables(url)
    store = PostgresStore(url, min_size=1, max_size=1, trusted_for=trusted_for)
    await store.open()
    await store.list_repositories()
    return store


@pytest.mark.postgres
async def test_an_idle_connection_is_checked_so_a_dropped_one_costs_no_request(postgres_url: str) -> None:
    store = await open_store(postgres_url, trusted_for=0.0)
    try:
        assert drop_connections(postgres_url) >= 1
        assert await store.list_repositories() == []
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_recently_used_connection_is_not_checked_and_a_broken_one_is_dropped(postgres_url: str) -> None:
    store = await open_store(postgres_url, trusted_for=60.0)
    try:
        assert drop_connections(postgres_url) >= 1
        with pytest.raises(StoreUnavailable):  # trusted without a round trip: its one query finds it broken
            await store.list_repositories()
        assert await store.list_repositories() == []  # the pool dropped it and connected afresh
    finally:
        await store.close()
