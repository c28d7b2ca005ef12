"""`awo migrate`: apply the SQL files of migrations/ to Postgres once each, in order."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from bot.errors import BotError, StoreUnavailable
from bot.store.queries import load

log = logging.getLogger(__name__)
Q = load("postgres.sql")
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The seed's two files keep their names and come first (001, 002); every later file is NNN_<what>.sql.
SEED_FILES = ("agent_work_orders_repositories.sql", "agent_work_orders_state.sql")
NUMBERED = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")

Connection = psycopg.AsyncConnection[TupleRow]


def migration_files() -> list[Path]:
    """Every migration, in the order it is applied."""
    numbered = sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if NUMBERED.match(p.name))
    return [MIGRATIONS_DIR / name for name in SEED_FILES] + numbered


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def apply_migrations(database_url: str) -> list[str]:
    """Apply the files not yet recorded (or changed since); return their names.

    Each file runs in its own transaction; a session advisory lock lets several processes run this at
    once (the others wait, then find nothing left to do). Every file is written to re-apply harmlessly,
    so a file whose checksum changed is applied again.
    """
    async with await _connect(database_url) as conn:
        await conn.execute(Q["migrations_lock"])
        try:
            await conn.execute(Q["migrations_table"])
            rows = await (await conn.execute(Q["migrations_applied"])).fetchall()
            applied: dict[str, str] = {filename: digest for filename, digest in rows}
            return [path.name for path in migration_files() if await _apply(conn, path, applied)]
        finally:
            await conn.execute(Q["migrations_unlock"])


async def _connect(database_url: str) -> Connection:
    try:
        return await psycopg.AsyncConnection.connect(database_url, autocommit=True, prepare_threshold=None)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot connect to Postgres to migrate: {exc}") from exc


async def _apply(conn: Connection, path: Path, applied: dict[str, str]) -> bool:
    digest = checksum(path)
    if applied.get(path.name) == digest:
        return False
    if path.name in applied:
        log.warning("migration %s changed since it was applied; applying it again", path.name)
    try:
        async with conn.transaction():
            await conn.execute(path.read_text().encode())
            await conn.execute(Q["migrations_record"], {"filename": path.name, "checksum": digest})
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"migration {path.name}: {exc}") from exc
    except psycopg.Error as exc:
        raise BotError(f"migration {path.name} failed: {exc}") from exc
    log.info("applied migration %s", path.name)
    return True
