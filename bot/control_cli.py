"""`awo cancel ID` and `awo retry ID` over the configured store, like `awo repos`: the same actions as
`@claude stop|retry` and the API; a running work order is stopped by the worker holding it, on any machine."""

from __future__ import annotations

import argparse

from bot.commands import Outlet, cancel, retry
from bot.errors import Conflict, NotFound
from bot.models import Status
from bot.runtime import bot_secrets, build_github
from bot.settings import Settings
from bot.store.factory import build_store


async def run_control(settings: Settings, args: argparse.Namespace) -> int:
    """0 when done, 1 when the work order is unknown or cannot be cancelled or retried now (the reason printed)."""
    store = build_store(settings)
    await store.open()
    outlet = Outlet(build_github(settings), bot_secrets(settings), settings.public_url)
    try:
        if args.command == "cancel":
            work_order = await cancel(store, outlet, args.id)
            print(f"cancelled {work_order.id}" if work_order.status is Status.CANCELLED
                  else f"stop requested for {work_order.id}: the worker running it ends it within seconds")
        else:
            work_order = await retry(store, outlet, args.id, settings.max_attempts)
            print(f"queued {work_order.id} again")
    except (NotFound, Conflict) as exc:
        print(f"awo: {exc}")
        return 1
    finally:
        await store.close()
    return 0
