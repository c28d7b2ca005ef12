"""Retention: old deliveries, mirrors of repositories no longer configured and orphaned worktrees go.

A periodic sweep in every `serve` and `worker` process. Nothing still in use is touched: a worktree is
kept while its work order is pending or running, a mirror while a configured repository or an active work
order names it, while a work order's worktree made from it still exists, or while a git command holds its
lock or a work order holds one of its pool slots; its idle pool slots go with it.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.errors import BotError
from bot.gitsafe import WORK_ORDER_KEY, mirror_name, safe_rmtree
from bot.models import Status, utcnow
from bot.pool import is_slot, slots_of, try_lock
from bot.store import Store

log = logging.getLogger(__name__)
ACTIVE = (Status.PENDING, Status.RUNNING)


@dataclass(frozen=True)
class Swept:
    deliveries: int = 0
    mirrors: tuple[str, ...] = ()
    worktrees: tuple[str, ...] = ()


def folder_size(root: Path) -> int:
    """Bytes of the files under `root` (links not followed); a file vanishing meanwhile counts nothing."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def orphaned_worktrees(listed: Iterable[Path], active: set[str]) -> list[Path]:
    """Worktree folders (named after a work order) whose work order is not pending or running."""
    return [p for p in listed if WORK_ORDER_KEY.match(p.name) and p.name not in active]


def live_trees(mirror: Path, worktrees: Path) -> bool:
    """Does a work order's own worktree made from this mirror still exist? (git keeps one folder per worktree
    inside it.) Pool slots do not count: they go with their mirror, unless one is taken."""
    admin = mirror / "worktrees"
    return admin.is_dir() and any(not is_slot(entry.name) and (worktrees / entry.name).exists()
                                  for entry in admin.iterdir())


def unused_mirrors(mirrors: Path, worktrees: Path, keep: set[str]) -> list[Path]:
    if not mirrors.is_dir():
        return []
    return [m for m in sorted(mirrors.glob("*.git"))
            if m.name not in keep and m.is_dir() and not m.is_symlink() and not live_trees(m, worktrees)]


def remove_unlocked(root: Path, mirror: Path, worktrees: Path) -> bool:
    """Remove a mirror and its pool slots unless a git command holds its lock or a work order holds one of
    its slots now (then it is in use: next sweep)."""
    with mirror.with_suffix(".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        slots = slots_of(worktrees, mirror)
        leases = [try_lock(slot) for slot in slots]
        try:
            if None in leases:
                return False
            for slot in slots:
                safe_rmtree(worktrees, slot)
            safe_rmtree(root, mirror)
        finally:
            for lease in leases:
                if lease is not None:
                    lease.handle.close()
    return True


@dataclass
class Retention:
    """The sweep and the data folder's size figure (cached: walking a big folder on every /health is slow)."""

    store: Store
    data_dir: Path
    delivery_days: float = 30
    interval: float = 3600
    size_ttl: float = 60
    _size: tuple[float, int] | None = field(default=None, repr=False)

    @property
    def mirrors(self) -> Path:
        return self.data_dir / "mirrors"

    @property
    def worktrees(self) -> Path:
        return self.data_dir / "worktrees"

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now, then every `interval` seconds until stopped; a failed sweep waits for the next."""
        while not stop.is_set():
            try:
                await self.sweep()
            except (BotError, OSError) as exc:
                log.warning("retention sweep failed (%s); next one in %.0f s", exc, self.interval)
            except Exception:  # noqa: BLE001 - one sweep is one unit of work: a bug in it must not stop the process
                log.exception("retention sweep failed unexpectedly; next one in %.0f s", self.interval)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                continue

    async def sweep(self) -> Swept:
        deliveries = await self.store.prune_deliveries(utcnow() - timedelta(days=self.delivery_days))
        # folders first, work orders second: a folder made after the listing is not judged at all
        listed = sorted(self.worktrees.iterdir()) if self.worktrees.is_dir() else []
        active = await self._active()
        trees = [self._remove(self.worktrees, p) for p in orphaned_worktrees(listed, set(active))]
        keep = await self._kept_mirrors(active.values())
        mirrors = [m.name for m in unused_mirrors(self.mirrors, self.worktrees, keep)
                   if await asyncio.to_thread(remove_unlocked, self.mirrors, m, self.worktrees)]
        swept = Swept(deliveries, tuple(mirrors), tuple(t for t in trees if t))
        if deliveries or mirrors or swept.worktrees:
            log.info("retention: pruned %d deliveries older than %g days; removed mirrors %s and worktrees %s",
                     deliveries, self.delivery_days, list(mirrors), list(swept.worktrees))
        self._size = None
        return swept

    async def _active(self) -> dict[str, str]:
        """Work order id → repository URL of every pending or running work order."""
        found: dict[str, str] = {}
        for status in ACTIVE:
            for wo in await self.store.list_work_orders(status, limit=100_000):
                found[wo.id] = wo.repository_url
        return found

    async def _kept_mirrors(self, active_urls: Iterable[str]) -> set[str]:
        urls = [r.clone_url for r in await self.store.list_repositories() if r.clone_url] + list(active_urls)
        names = {mirror_name(url) for url in urls}
        # a repository row's URL without `.git` names the same remote as its clone URL
        return names | {mirror_name(url.removesuffix(".git") + ".git") for url in urls}

    def _remove(self, root: Path, path: Path) -> str | None:
        try:
            safe_rmtree(root, path)
        except (BotError, OSError) as exc:
            log.warning("retention: could not remove %s: %s", path, exc)
            return None
        return path.name

    async def data_dir_bytes(self) -> int:
        """The data folder's size, measured at most once per `size_ttl` seconds."""
        now = time.monotonic()
        if self._size is None or now - self._size[0] > self.size_ttl:
            self._size = (now, await asyncio.to_thread(folder_size, self.data_dir))
        return self._size[1]
