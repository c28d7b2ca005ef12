"""build_store picks the backend STATE_STORAGE_TYPE names; `file` is the SQLite store's old name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.store.factory import build_store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from bot.store.supabase import SupabaseStore


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(sqlite_path=tmp_path / "wo.db", **values)  # type: ignore[arg-type]


def test_sqlite_is_the_default_and_file_is_its_old_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.store.factory"):
        stores = [build_store(settings(tmp_path, storage_type=kind)) for kind in ("sqlite", "file")]
    assert all(isinstance(s, SqliteStore) and s.path == str(tmp_path / "wo.db") for s in stores)
    assert [r.getMessage() for r in caplog.records] == [
        "STATE_STORAGE_TYPE=file is the old name of the SQLite store; using sqlite"]


def test_memory_is_sqlite_in_memory(tmp_path: Path) -> None:
    store = build_store(settings(tmp_path, storage_type="memory"))
    assert isinstance(store, SqliteStore) and store.path == ":memory:"


def test_postgres_uses_the_database_url(tmp_path: Path) -> None:
    url = "postgresql://bot@db.example.com:5432/awo"
    store = build_store(settings(tmp_path, storage_type="postgres", database_url=url))
    assert isinstance(store, PostgresStore) and store.database_url == url


def test_supabase_uses_the_project_url_and_service_key(tmp_path: Path) -> None:
    store = build_store(settings(tmp_path, storage_type="supabase", supabase_url="https://p.supabase.co",
                                 supabase_service_key="service-key"))
    assert isinstance(store, SupabaseStore) and store.url == "https://p.supabase.co"
