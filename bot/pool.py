"""A pool of ready worktrees per mirror, so a work order on a big repository starts in about a second.

Adding a worktree writes every file of the repository (seconds to minutes on a big one); moving an
existing worktree from the last base to the next writes only the files that differ. A work order takes a
free slot with an exclusive flock on the slot's lock file, held until it gives the slot back, so two work
orders (in any process on this machine) never share one, and a crashed process's lock ends with it.

A slot is never trusted to be as its last user left it: every take resets it (`checkout --force`, then
`clean -ffdx`, which also removes ignored files and nested repositories) and checks that `git status`
then shows nothing at all, ignored files included. A slot that fails any of this is deleted and added
again. Git runs through the `Checkout`'s own runner (pinned config, hardened environment), always naming
the slot's git folder inside the mirror, never the `.git` file the agent could have rewritten.
"""

from __future__ import annotations

import fcntl
import logging
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
Git = Callable[..., Awaitable[str]]
Remover = Callable[[Path, Path], None]


@dataclass
class Lease:
    """A slot held by this process: the open lock file is the hold."""

    path: Path
    handle: TextIO


def is_slot(name: str) -> bool:
    return SLOT.match(name) is not None


def lock_file(slot: Path) -> Path:
    return slot.with_name(slot.name + ".lock")


def try_lock(slot: Path) -> Lease | None:
    """Hold the slot if nobody (this process included) holds it now."""
    handle = lock_file(slot).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return Lease(slot, handle)


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
    """At most `size` slots per mirror under `worktrees`; none when `size` is 0."""

    def __init__(self, worktrees: Path, size: int, git: Git, remove: Remover) -> None:
        self.worktrees = worktrees
        self.size = size
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
        try:
            git_dir = await self._ready(mirror, lease.path, branch, start)
        except BaseException:
            lease.handle.close()
            raise
        self._held[lease.path] = lease
        return lease.path, git_dir

    async def give_back(self, mirror: Path, path: Path, git_dir: Path, base: str) -> None:
        """Reset the slot to `base`, detached (so its branch can be deleted), and free it: nothing the work
        order wrote stays on disk. A slot that cannot be reset is deleted. Call with the mirror's lock held."""
        lease = self._held.pop(path)
        try:
            where = located(git_dir, path)
            await self._git(*SPEED, *where, "checkout", "--quiet", "--force", "--detach", base, cwd=path)
            await self._git(*where, "clean", "-ffdxq", cwd=path)
        except GitError as exc:
            log.warning("slot %s could not be reset (%s); deleting it", path.name, exc)
            await self._delete(mirror, path)
        finally:
            lease.handle.close()

    async def _ready(self, mirror: Path, slot: Path, branch: str, start: str) -> Path:
        git_dir = admin_dir(mirror, slot)
        if git_dir is not None:
            try:
                await self._reset(git_dir, slot, branch, start)
                return git_dir
            except GitError as exc:
                log.warning("slot %s could not be reset (%s); adding it again", slot.name, exc)
        elif slot.exists() or slot.is_symlink():
            log.warning("slot %s is not a worktree of its mirror any more; adding it again", slot.name)
        git_dir = await self._add(mirror, slot, start)
        await self._reset(git_dir, slot, branch, start)
        return git_dir

    async def _reset(self, git_dir: Path, slot: Path, branch: str, start: str) -> None:
        """Write what differs from `start`, remove everything else, and prove nothing is left."""
        where = located(git_dir, slot)
        await self._git(*SPEED, *where, "checkout", "--quiet", "--force", "--ignore-other-worktrees",
                        "-B", branch, start, cwd=slot)
        await self._git(*where, "clean", "-ffdxq", cwd=slot)
        left = await self._git(*SPEED, *where, "status", "--porcelain", "--ignored", "--untracked-files=all",
                               cwd=slot)
        if left:
            raise GitError(f"slot {slot.name} is not clean after its reset: {left[:200]}")

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
