"""Real databases for the integration tests: a fresh PostgreSQL database, created and dropped here.

The admin URL is postgresql://postgres@127.0.0.1:5432/test unless AWO_TEST_DATABASE_URL says otherwise.
Postgres tests never skip: when the server is unreachable they fail with the reason and the fix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bot.migrate import apply_migrations
from bot.store import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore

ADMIN_URL = os.environ.get("AWO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = (
    "archon_agent_work_order_steps", "archon_agent_work_orders",
    "archon_configured_repositories", "archon_agent_work_order_deliveries", "archon_agent_work_order_notices",
    "archon_agent_work_order_spend", "archon_agent_work_order_spend_daily",
)


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is unreachable at {ADMIN_URL}: {exc}\n"
            "Start it (`pg_ctlcluster 15 main start`) or point AWO_TEST_DATABASE_URL at a server "
            "where this user may CREATE DATABASE.",
            pytrace=False,
        )


@contextmanager
def fresh_database() -> Iterator[str]:
    """An empty database awo_test_<random>, dropped afterwards; yields its URL."""
    name = f"awo_test_{secrets.token_hex(6)}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(ADMIN_URL, dbname=name)
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One migrated database for the whole session."""
    with fresh_database() as url:
        asyncio.run(apply_migrations(url))
        yield url


def empty_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")


@asynccontextmanager
async def open_backend(kind: str, tmp_path: Path, postgres_url: str) -> AsyncIterator[Store]:
    """An empty, open store of one kind: "postgres" (its tables emptied), "memory", or SQLite in a file."""
    backend: Store
    if kind == "postgres":
        empty_tables(postgres_url)
        backend = PostgresStore(postgres_url, max_size=4)
    elif kind == "memory":
        backend = SqliteStore(":memory:")
    else:
        backend = SqliteStore(tmp_path / "work-orders.db")
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open SQLite store in a file of the test's own (test modules with other stores define their own)."""
    backend = SqliteStore(tmp_path / "wo.db")
    await backend.open()
    yield backend
    await backend.close()
