"""`awo logs ID [--follow]`: a work order's log over the configured store, like `awo cancel` and `awo repos`; with
--follow, each new entry as it is stored (Postgres: NOTIFY, so a worker on another machine shows live) until the
work order ends."""

from __future__ import annotations

import argparse

from bot.errors import NotFound
from bot.progress import log_line
from bot.settings import Settings
from bot.store.factory import build_store
from bot.worklog import tail


async def run_logs(settings: Settings, args: argparse.Namespace) -> int:
    """0 when printed (followed to the end), 1 when the work order is unknown."""
    store = build_store(settings)
    await store.open()
    try:
        await store.get_work_order(args.id)
        async for entry in tail(store, args.id, args.after, follow=args.follow):
            print(log_line(entry), flush=True)
    except NotFound as exc:
        print(f"awo: {exc}")
        return 1
    finally:
        await store.close()
    return 0
