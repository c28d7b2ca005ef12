"""A pool of ready worktrees per mirror, so a work order on a big repository starts in about a second.

Adding a worktree writes every file of the repository (seconds to minutes on a big one); moving an
existing worktree from the last base to the next writes only the files that differ. A work order takes a
free slot with an exclusive flock on the slot's lock file, held until it gives the slot back, so two work
orders (in any process on this machine) never share one, and a crashed process's lock ends with it.

A slot is never trusted to be as its last user left it: every take resets it (`checkout --force`) and
checks that `git status` then shows nothing at all, ignored files included; `clean -ffdx` (which also
removes ignored files, nested repositories and empty folders) runs before that check unless the slot's
lock file says it was given back cleaned, and whenever the check finds anything. A slot that fails any of
this is deleted and added again.

The lock file also records, when the slot is given back, its size on disk; its modification time is when
it was last used. All idle slots together (every mirror's) are kept under `max_bytes`: after a give-back,
the least recently used idle ones are deleted until they fit; a held slot is never touched.

Git runs through the `Checkout`'s own runner (pinned config, hardened environment), always naming the slot's
git folder inside the mirror, never the `.git` file the agent could have rewritten.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.errors import GitError

log = logging.getLogger(__name__)
SLOT = re.compile(r"^slot-(\d+)-[A-Za-z0-9._-]+$")
# Command-line only, like PINNED: a compact index and parallel checkout for big trees; ctime and full stat
# checks so a file rewritten with its old size and mtime still counts as modified and is rewritten.
SPEED = ("-c", "index.version=4", "-c", "checkout.workers=0", "-c", "core.untrackedCache=false",
         "-c", "core.trustctime=true", "-c", "core.checkStat=default", "-c", "core.ignoreStat=false")
CLEAN = "clean"  # a lock file's first word when its slot was given back cleaned
Git = Callable[..., Awaitable[str]]
Remover = Callable[[Path, Path], None]


@dataclass
class Lease:
    """A slot held by this process: the open lock file is the hold."""

    path: Path
    handle: TextIO


def record(lease: Lease, text: str) -> None:
    """Write what the slot's lock file says of it (only its holder writes it)."""
    lease.handle.seek(0)
    lease.handle.truncate()
    lease.handle.write(text)
    lease.handle.flush()


def recorded(slot: Path) -> int | None:
    """The slot's size on disk if it was given back cleaned and nobody took it since, else None."""
    try:
        words = lock_file(slot).read_text().split()
    except FileNotFoundError:
        return None
    return int(words[1]) if len(words) == 2 and words[0] == CLEAN and words[1].isdigit() else None


def last_used(lease: Lease) -> float:
    return os.fstat(lease.handle.fileno()).st_mtime


def disk_usage(root: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks; links not followed, a vanished entry counts nothing)."""
    total, folders = 0, [str(root)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
        except FileNotFoundError:
            continue
    return total


def is_slot(name: str) -> bool:
    return SLOT.match(name) is not None


def lock_file(slot: Path) -> Path:
    return slot.with_name(slot.name + ".lock")


def try_flock(path: Path) -> TextIO | None:
    """The open file, locked, if nobody (this process included) holds its lock now."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def try_lock(slot: Path) -> Lease | None:
    """Hold the slot if nobody (this process included) holds it now."""
    handle = try_flock(lock_file(slot))
    return None if handle is None else Lease(slot, handle)


def all_slots(worktrees: Path) -> list[Path]:
    """Every slot folder, of every mirror."""
    found = worktrees.iterdir() if worktrees.is_dir() else []
    return [p for p in found if is_slot(p.name) and p.is_dir() and not p.is_symlink()]


def slots_of(worktrees: Path, mirror: Path) -> list[Path]:
    """Every slot folder of this mirror that exists, whatever its number."""
    suffix = "-" + mirror.name.removesuffix(".git")
    found = worktrees.glob(f"slot-*{suffix}") if worktrees.is_dir() else []
    return sorted(p for p in found if is_slot(p.name) and p.name.split("-", 2)[2] == suffix[1:])


def slot_number(slot: Path) -> int:
    match = SLOT.match(slot.name)
    assert match is not None
    return int(match.group(1))


def admin_dir(mirror: Path, slot: Path) -> Path | None:
    """The slot's git folder in the mirror, if the slot is a real folder registered there and its `.git` file
    points to it."""
    admin = mirror / "worktrees"
    dot_git = slot / ".git"
    if not admin.is_dir() or slot.is_symlink() or dot_git.is_symlink() or not dot_git.is_file():
        return None
    for entry in admin.iterdir():
        gitdir = entry / "gitdir"
        if gitdir.is_file() and gitdir.read_text().strip() == str(dot_git):
            return entry if dot_git.read_text() == f"gitdir: {entry}\n" else None
    return None


class Pool:
    """At most `size` slots per mirror under `worktrees`, none when `size` is 0; idle ones together at most
    `max_bytes` on disk, unbounded when 0."""

    def __init__(
        self, worktrees: Path, mirrors: Path, size: int, git: Git, remove: Remover, max_bytes: int = 0,
    ) -> None:
        self.worktrees, self.mirrors = worktrees, mirrors
        self.size = size
        self.max_bytes = max_bytes
        self._git = git
        self._remove = remove
        self._held: dict[Path, Lease] = {}
        weakref.finalize(self, free_all, self._held)  # a pool dropped with slots held frees them

    def path(self, mirror: Path, number: int) -> Path:
        return self.worktrees / f"slot-{number}-{mirror.name.removesuffix('.git')}"

    def holds(self, path: Path) -> bool:
        return path in self._held

    async def take(self, mirror: Path, branch: str, start: str) -> tuple[Path, Path] | None:
        """A free slot on `branch` at `start`, clean, and its git folder; None when every slot is busy.

        Call with the mirror's lock held."""
        self.worktrees.mkdir(parents=True, exist_ok=True)
        await self._trim(mirror)
        lease = next((held for n in range(self.size) if (held := try_lock(self.path(mirror, n)))), None)
        if lease is None:
            return None
        given_back = recorded(lease.path) is not None
        try:
            record(lease, "")  # taken: no longer known clean, whatever happens next
            git_dir = await self._ready(mirror, lease.path, branch, start, given_back)
        except BaseException:
            lease.handle.close()
            raise
        self._held[lease.path] = lease
        return lease.path, git_dir

    async def give_back(self, mirror: Path, path: Path, git_dir: Path, base: str) -> None:
        """Reset the slot to `base`, detached (so its branch can be deleted), and free it: nothing the work
        order wrote stays on disk; its size is recorded. A slot that cannot be reset is deleted. Call with the
        mirror's lock held, then `bound` without it."""
        lease = self._held.pop(path)
        try:
            where = located(git_dir, path)
            await self._git(*SPEED, *where, "checkout", "--quiet", "--force", "--detach", base, cwd=path)
            await self._git(*where, "clean", "-ffdxq", cwd=path)
            record(lease, f"{CLEAN} {await asyncio.to_thread(disk_usage, path)}\n")
        except GitError as exc:
            log.warning("slot %s could not be reset (%s); deleting it", path.name, exc)
            await self._delete(mirror, path)
        finally:
            lease.handle.close()

    def release(self, path: Path) -> None:
        """Free a held slot as it is (unverified: its next take resets it in full)."""
        self._held.pop(path).handle.close()

    async def move(self, path: Path, git_dir: Path, branch: str, start: str) -> None:
        """Move a held slot's branch and files to `start` (from a state verified clean since it was taken)."""
        await self._git(*SPEED, *located(git_dir, path), "checkout", "--quiet", "--force", "--ignore-other-worktrees",
                        "-B", branch, start, cwd=path)

    async def _ready(self, mirror: Path, slot: Path, branch: str, start: str, given_back: bool) -> Path:
        git_dir = admin_dir(mirror, slot)
        if git_dir is not None:
            try:
                await self._reset(git_dir, slot, branch, start, given_back)
                return git_dir
            except GitError as exc:
                log.warning("slot %s could not be reset (%s); adding it again", slot.name, exc)
        elif slot.exists() or slot.is_symlink():
            log.warning("slot %s is not a worktree of its mirror any more; adding it again", slot.name)
        git_dir = await self._add(mirror, slot, start)
        await self._reset(git_dir, slot, branch, start, given_back=False)
        return git_dir

    async def _reset(self, git_dir: Path, slot: Path, branch: str, start: str, given_back: bool) -> None:
        """Write what differs from `start`, remove everything else, and prove nothing is left. A slot given back
        cleaned is cleaned again only if the proof finds something (one git process fewer on every take)."""
        where = located(git_dir, slot)
        await self._git(*SPEED, *where, "checkout", "--quiet", "--force", "--ignore-other-worktrees",
                        "-B", branch, start, cwd=slot)
        if given_back and not await self._left(where, slot):
            return
        await self._git(*where, "clean", "-ffdxq", cwd=slot)
        left = await self._left(where, slot)
        if left:
            raise GitError(f"slot {slot.name} is not clean after its reset: {left[:200]}")

    async def _left(self, where: list[str], slot: Path) -> str:
        """What `git status` shows in the slot, untracked and ignored files included: empty when clean."""
        return await self._git(*SPEED, *where, "status", "--porcelain", "--ignored", "--untracked-files=all",
                               cwd=slot)

    async def _add(self, mirror: Path, slot: Path, start: str) -> Path:
        await self._delete(mirror, slot)
        await self._git(*SPEED, "worktree", "add", "--quiet", "--detach", "--no-checkout", "--", str(slot), start,
                        cwd=mirror)
        git_dir = admin_dir(mirror, slot)
        if git_dir is None:
            raise GitError(f"slot {slot.name} was added but is not registered in its mirror")
        return git_dir

    async def _delete(self, mirror: Path, slot: Path) -> None:
        if slot.is_symlink():
            slot.unlink()  # the link alone, never what it points to
        elif slot.exists():
            self._remove(self.worktrees, slot)
        await self._git("worktree", "prune", cwd=mirror)

    async def bound(self) -> None:
        """While the idle slots of every mirror together take more than `max_bytes`, delete the least recently
        used one. Only slots whose lock this call takes count and go: a held slot is never touched."""
        if not self.max_bytes:
            return
        leases = [lease for slot in all_slots(self.worktrees) if (lease := try_lock(slot)) is not None]
        try:
            sizes = {lease.path: await self._size(lease) for lease in leases}
            total = sum(sizes.values())
            for lease in sorted(leases, key=last_used):
                if total <= self.max_bytes:
                    break
                log.info("pool over %d bytes on disk (%d); deleting its least recently used slot %s",
                         self.max_bytes, total, lease.path.name)
                await self._evict(lease)
                total -= sizes[lease.path]
        finally:
            free_all({lease.path: lease for lease in leases})

    async def _size(self, lease: Lease) -> int:
        """As recorded when given back, or measured now (a slot taken and never given back: a crash)."""
        size = recorded(lease.path)
        return size if size is not None else await asyncio.to_thread(disk_usage, lease.path)

    async def _evict(self, lease: Lease) -> None:
        """Delete a held slot's folder; its mirror forgets it now if its lock is free, else at its next prune."""
        record(lease, "")
        await asyncio.to_thread(self._remove, self.worktrees, lease.path)
        mirror = self.mirrors / (lease.path.name.split("-", 2)[2] + ".git")
        if not (mirror / "HEAD").exists():
            return
        handle = try_flock(mirror.with_suffix(".lock"))
        if handle is None:
            return
        with handle:
            await self._git("worktree", "prune", cwd=mirror)

    async def _trim(self, mirror: Path) -> None:
        """Idle slots numbered beyond the bound (the setting was lowered) go."""
        for slot in slots_of(self.worktrees, mirror):
            if slot_number(slot) < self.size or (lease := try_lock(slot)) is None:
                continue
            try:
                await self._delete(mirror, slot)  # its lock file stays: unlinking it would race a taker
            finally:
                lease.handle.close()


def free_all(held: dict[Path, Lease]) -> None:
    for lease in held.values():
        lease.handle.close()
    held.clear()


def located(git_dir: Path, slot: Path) -> list[str]:
    return [f"--git-dir={git_dir}", f"--work-tree={slot}"]
