"""What the backends share: the migration hint, which columns may change, and row shapes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic_core import to_jsonable_python

from bot.models import Repository
from bot.store.rows import from_row

MIGRATE_HINT = "run `awo migrate` (or paste migrations/*.sql into the Supabase SQL Editor, see migrations/README.md)"
REPOSITORY_MUTABLE = frozenset(Repository.model_fields) - {"id", "created_at"}
CHANNEL = "agent_work_orders"  # NOTIFY channel of migrations/005


def checked(changes: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The changes, if they only name columns a caller may change."""
    unknown = changes.keys() - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    return changes


def is_uuid(value: str) -> bool:
    """Repository ids are UUIDs in Postgres; anything else cannot name a row."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO strings, enums as their values: what a JSON body can carry."""
    result: dict[str, Any] = to_jsonable_python(values)
    return result


def repository_from(row: dict[str, Any]) -> Repository:
    return from_row(Repository, {**row, "id": str(row["id"])})
