"""Choose the store the settings ask for; nothing is opened here."""

from __future__ import annotations

import logging

from bot.settings import Settings
from bot.store import Store
from bot.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


def build_store(settings: Settings) -> Store:
    """The backend of `settings.effective_storage` (Settings has checked that its credentials are set)."""
    if settings.storage_type == "file":
        log.info("STATE_STORAGE_TYPE=file is the old name of the SQLite store; using sqlite")
    storage = settings.effective_storage
    if storage == "memory":
        return SqliteStore(":memory:")
    if storage == "postgres" and settings.database_url is not None:
        from bot.store.postgres import PostgresStore  # the database clients load only when chosen

        return PostgresStore(settings.database_url.get_secret_value())
    if storage == "supabase" and settings.supabase_url and settings.supabase_service_key is not None:
        from bot.store.supabase import SupabaseStore

        return SupabaseStore(settings.supabase_url, settings.supabase_service_key.get_secret_value())
    return SqliteStore(settings.sqlite_path)
