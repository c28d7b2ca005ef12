"""The only code that runs git: a bare mirror per repository, a worktree per work order, commit, push."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import logging
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import process
from bot.errors import GitError

log = logging.getLogger(__name__)
WORK_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
IGNORED_BY_BOT = ".claude/\n"


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str
    base: str  # the commit the branch started from
    resumed: bool  # the branch already existed on the remote (an earlier attempt pushed it)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def auth_env(token: str | None) -> dict[str, str]:
    """Per-command git config carrying the token as an HTTP header: never in argv, never in a file."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def mirror_name(clone_url: str) -> str:
    """A stable folder name for a remote: readable slug plus a hash of the exact URL."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", clone_url.rstrip("/").removesuffix(".git"))[-60:].strip("-.")
    return f"{slug}-{hashlib.sha1(clone_url.encode()).hexdigest()[:8]}.git"


class Checkout:
    """Mirrors under `<data>/mirrors`, worktrees under `<data>/worktrees`."""

    def __init__(self, data_dir: Path, base_env: Mapping[str, str], timeout: float = 600) -> None:
        self.mirrors = data_dir / "mirrors"
        self.worktrees = data_dir / "worktrees"
        self.base_env = {**base_env, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"}
        self.timeout = timeout

    async def git(self, *args: str, cwd: Path, token: str | None = None) -> str:
        result = await process.run(["git", *args], cwd=cwd, env={**self.base_env, **auth_env(token)},
                                   timeout=self.timeout)
        if result.returncode != 0:
            verb = args[0] if args[0] != "-c" else args[2]
            detail = "timed out" if result.timed_out else result.stderr.strip()[-500:]
            raise GitError(f"git {verb} failed: {detail}")
        return result.stdout.strip()

    @asynccontextmanager
    async def _locked(self, mirror: Path) -> AsyncIterator[None]:
        """One git writer per mirror, across processes on this machine."""
        mirror.parent.mkdir(parents=True, exist_ok=True)
        handle = mirror.with_suffix(".lock").open("w")
        try:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            yield
        finally:
            handle.close()

    async def _sync_mirror(self, clone_url: str, token: str | None) -> Path:
        mirror = self.mirrors / mirror_name(clone_url)
        if not (mirror / "HEAD").exists():
            await self.git("clone", "--bare", "--quiet", clone_url, str(mirror), cwd=self.mirrors, token=token)
            await self.git("config", "remote.origin.fetch", WORK_BRANCHES, cwd=mirror)
            (mirror / "info").mkdir(exist_ok=True)
            (mirror / "info" / "exclude").write_text(IGNORED_BY_BOT)
        await self.git("fetch", "--quiet", "--prune", "origin", cwd=mirror, token=token)
        return mirror

    async def prepare(
        self, clone_url: str, branch: str, key: str, default_branch: str | None, token: str | None
    ) -> Worktree:
        """Fetch the mirror and add a fresh worktree on `branch` (from the remote branch if it exists)."""
        self.mirrors.mkdir(parents=True, exist_ok=True)
        mirror = self.mirrors / mirror_name(clone_url)
        async with self._locked(mirror):
            await self._sync_mirror(clone_url, token)
            base_ref, resumed = await self._start_point(mirror, branch, default_branch)
            path = self.worktrees / key
            await self._discard(mirror, path)
            await self.git("worktree", "add", "--quiet", "-B", branch, str(path), base_ref, cwd=mirror)
        base = await self.git("rev-parse", f"{default_ref(default_branch or await self._head(mirror))}", cwd=mirror)
        return Worktree(path=path, branch=branch, base=base, resumed=resumed)

    async def _head(self, mirror: Path) -> str:
        return (await self.git("symbolic-ref", "--short", "HEAD", cwd=mirror)).strip()

    async def _start_point(self, mirror: Path, branch: str, default_branch: str | None) -> tuple[str, bool]:
        remote_branch = f"refs/remotes/origin/{branch}"
        listed = await self.git("for-each-ref", "--format=%(refname)", remote_branch, cwd=mirror)
        if listed:
            return remote_branch, True
        return default_ref(default_branch or await self._head(mirror)), False

    async def _discard(self, mirror: Path, path: Path) -> None:
        """Forget a worktree left by a crashed attempt."""
        if path.exists():
            shutil.rmtree(path)
        await self.git("worktree", "prune", cwd=mirror)

    async def changed_files(self, tree: Worktree) -> list[str]:
        """Files the agent changed, added or deleted, relative to the worktree."""
        await self.git("add", "--all", cwd=tree.path)
        names = await self.git("diff", "--cached", "--name-only", "HEAD", cwd=tree.path)
        return [line for line in names.splitlines() if line]

    async def staged_diff(self, tree: Worktree) -> str:
        """What would be committed, every file as text; no diff driver or textconv from the repository runs."""
        return await self.git("diff", "--cached", "--text", "--no-color", "--no-ext-diff", "--no-textconv",
                              "HEAD", "--", cwd=tree.path)

    async def commit(self, tree: Worktree, message: str, author: Identity) -> str:
        await self.git(
            "-c", f"user.name={author.name}", "-c", f"user.email={author.email}",
            "commit", "--quiet", "--no-verify", "-m", message, cwd=tree.path,
        )
        return await self.git("rev-parse", "HEAD", cwd=tree.path)

    async def unpushed(self, tree: Worktree) -> bool:
        """True if the branch has commits the remote has not seen."""
        remote = f"refs/remotes/origin/{tree.branch}"
        known = await self.git("for-each-ref", "--format=%(objectname)", remote, cwd=tree.path)
        head = await self.git("rev-parse", "HEAD", cwd=tree.path)
        return known != head and head != tree.base

    async def push(self, tree: Worktree, token: str | None) -> None:
        await self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{tree.branch}", cwd=tree.path, token=token)

    async def remove(self, tree: Worktree) -> None:
        """Remove the worktree and its local branch, whatever state they are in."""
        mirror = Path(await self.git("rev-parse", "--git-common-dir", cwd=tree.path)).resolve() \
            if tree.path.exists() else None
        if tree.path.exists():
            shutil.rmtree(tree.path)
        if mirror is not None:
            async with self._locked(mirror):
                await self.git("worktree", "prune", cwd=mirror)
                await self.git("branch", "-D", "--quiet", tree.branch, cwd=mirror)


def default_ref(default_branch: str) -> str:
    return f"refs/remotes/origin/{default_branch}"
