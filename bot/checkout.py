"""The only code that runs git: a bare mirror per repository, a worktree per work order, commit, push.

Nothing a repository or the agent writes may run code here: hooks, fsmonitor, filters and other config
are pinned (command-line `-c`, a config file rewritten to what the bot wrote, no system or global
config), worktree commands name their git folder instead of following the worktree's `.git` file, and
the token travels as a header scoped to the GitHub host, in the environment of the one command.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import process
from bot.errors import GitError
from bot.pool import Pool
from bot.remotes import RemotePolicy, strip_userinfo

log = logging.getLogger(__name__)
WORK_BRANCHES = "+refs/heads/*:refs/remotes/origin/*"
IGNORED_BY_BOT = ".claude/\n"
WORK_ORDER_KEY = re.compile(r"^wo-[0-9a-f]{8}$")
REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
COMMITTED = re.compile(r"^\[\S+ (?:\(root-commit\) )?([0-9a-f]{40}|[0-9a-f]{64})\] ")  # `[branch id] subject`
BRANCH = re.compile(r"^claude/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# Overrides whatever a tampered repository config says: command-line config wins over every file.
PINNED = (
    "core.hooksPath=/dev/null", "core.fsmonitor=false", "core.sshCommand=false", "credential.helper=",
    "commit.gpgSign=false", "tag.gpgSign=false", "push.gpgSign=false", "protocol.allow=never",
)


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str
    base: str  # the commit the branch started from
    resumed: bool  # the branch already existed on the remote (an earlier attempt pushed it)
    mirror: Path | None = None  # the bare mirror it belongs to (never read back from the worktree)
    git_dir: Path | None = None  # its folder inside the mirror, recorded before the agent ran
    remote: str = ""  # the clone URL the mirror fetches from
    default_branch: str = ""  # the remote's default branch: never pushed to


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def auth_env(token: str | None, origin: str = "https://github.com") -> dict[str, str]:
    """The token as an HTTP header for the GitHub host only: never in argv, never in a file."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{origin.rstrip('/')}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def hardened_env(base_env: Mapping[str, str], policy: RemotePolicy) -> dict[str, str]:
    """No system or global config, no prompts, and only the allowed transports."""
    return {
        **base_env, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ":".join(policy.protocols), "GIT_PROTOCOL_FROM_USER": "0",
    }


def pinned_args(policy: RemotePolicy) -> list[str]:
    allowed = [f"protocol.{name}.allow=always" for name in policy.protocols]
    return [arg for value in (*PINNED, *allowed) for arg in ("-c", value)]


def mirror_config(clone_url: str) -> str:
    """The whole config of a mirror: what the bot wrote, and nothing a tampering could have added."""
    return (
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"
        f'[remote "origin"]\n\turl = {clone_url}\n\tfetch = {WORK_BRANCHES}\n'
    )


def mirror_name(clone_url: str) -> str:
    """A stable folder name for a remote: readable slug plus a hash of the URL (credentials never in it)."""
    clone_url = strip_userinfo(clone_url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", clone_url.rstrip("/").removesuffix(".git"))[-60:].strip("-.")
    return f"{slug}-{hashlib.sha1(clone_url.encode()).hexdigest()[:8]}.git"


def safe_rmtree(root: Path, path: Path) -> None:
    """Remove `path` only if it resolves to a folder strictly inside `root` (never a link out of it)."""
    resolved, top = path.resolve(), root.resolve()
    if path.is_symlink() or resolved == top or not resolved.is_relative_to(top):
        raise GitError(f"refusing to remove {path}: not inside {top}")
    if resolved.exists():
        shutil.rmtree(resolved)


def check_key(key: str) -> str:
    """A worktree is named after its work order id, which must have the shape the bot gives it."""
    if not WORK_ORDER_KEY.match(key):
        raise GitError(f"refusing work order id {key[:40]!r}: not of the form wo-<8 hex digits>")
    return key


def check_ref(name: str) -> str:
    """A branch name read from a row or a payload, before it becomes part of a ref git resolves."""
    if not REF.match(name) or ".." in name or name.endswith((".lock", "/", ".")):
        raise GitError(f"refusing branch name {name[:80]!r}")
    return name


def check_branch(branch: str, default_branch: str | None = None) -> str:
    """Branches the bot creates start with `claude/`, are plain ref names and never the default branch."""
    bad = not BRANCH.match(branch) or ".." in branch or branch.endswith((".lock", "."))
    if bad or branch == default_branch:
        raise GitError(f"refusing branch {branch[:80]!r}: the bot only writes claude/... branches, "
                       "never the default branch")
    return branch


class Checkout:
    """Mirrors under `<data>/mirrors`, worktrees under `<data>/worktrees`: up to `pool_slots` reused slots per
    mirror (idle ones together at most `pool_max_bytes` on disk, 0: unbounded), and one worktree per work order
    (removed at its end) when every slot is busy or the pool is off."""

    def __init__(
        self, data_dir: Path, base_env: Mapping[str, str], timeout: float = 600,
        policy: RemotePolicy | None = None, pool_slots: int = 0, pool_max_bytes: int = 0,
    ) -> None:
        self.root = data_dir.resolve()
        self.mirrors = self.root / "mirrors"
        self.worktrees = self.root / "worktrees"
        self.policy = policy or RemotePolicy()
        self.base_env = hardened_env(base_env, self.policy)
        self.timeout = timeout
        self._trees: dict[Path, Worktree] = {}
        self._fetched: dict[Path, float] = {}  # mirror -> when this process's last completed fetch of it began
        self.pool = Pool(self.worktrees, self.mirrors, pool_slots, self.git, safe_rmtree, pool_max_bytes)

    async def git(self, *args: str, cwd: Path, token: str | None = None) -> str:
        env = {**self.base_env, **auth_env(token, self.policy.origin)}
        argv = ["git", *pinned_args(self.policy), *self._located(cwd), *args]
        result = await process.run(argv, cwd=cwd, env=env, timeout=self.timeout)
        if result.returncode != 0:
            verb = next((a for a in args if not a.startswith("-") and "=" not in a), "command")
            detail = "timed out" if result.timed_out else result.stderr.strip()[-500:]
            raise GitError(f"git {verb} failed: {detail}")
        return result.stdout.strip()

    def _located(self, cwd: Path) -> list[str]:
        """In a worktree: its git folder named outright, so a rewritten `.git` file points nowhere."""
        tree = self._trees.get(cwd)
        if tree is None or tree.git_dir is None:
            return []
        if tree.mirror is not None:
            self._pin_config(tree.mirror, tree.remote)
        return [f"--git-dir={tree.git_dir}", f"--work-tree={tree.path}"]

    def _pin_config(self, mirror: Path, clone_url: str) -> None:
        """Rewrite the mirror's config to what the bot wrote (atomically: other work orders read it)."""
        staging = mirror / f"config.{os.getpid()}.tmp"
        staging.write_text(mirror_config(clone_url))
        os.replace(staging, mirror / "config")

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

    async def _sync_mirror(self, clone_url: str, token: str | None, fresh_since: float | None = None) -> Path:
        """Clone or fetch the mirror; the fetch is skipped if this process completed one that started after
        `fresh_since` (such a fetch saw the remote as it was then, or later)."""
        mirror = self.mirrors / mirror_name(clone_url)
        if not (mirror / "HEAD").exists():
            await self.git("clone", "--bare", "--quiet", "--", clone_url, str(mirror), cwd=self.mirrors, token=token)
        self._pin_config(mirror, clone_url)
        (mirror / "info").mkdir(exist_ok=True)
        (mirror / "info" / "exclude").write_text(IGNORED_BY_BOT)
        if fresh_since is None or self._fetched.get(mirror, float("-inf")) < fresh_since:
            started = time.time()
            await self.git("fetch", "--quiet", "--prune", "origin", cwd=mirror, token=token)
            self._fetched[mirror] = started
        return mirror

    async def refresh(self, clone_url: str, token: str | None) -> None:
        """Fetch an existing mirror ahead of `prepare` (say, while other calls are under way); `prepare` given a
        `fresh_since` before this began then skips its own fetch. A mirror not cloned yet is left to `prepare`:
        only a work order allowed to run makes the bot clone a repository."""
        clone_url = self.policy.check(strip_userinfo(clone_url))
        mirror = self.mirrors / mirror_name(clone_url)
        if not (mirror / "HEAD").exists():
            return
        async with self._locked(mirror):
            await self._sync_mirror(clone_url, token)

    async def prepare(
        self, clone_url: str, branch: str, key: str, default_branch: str | None, token: str | None,
        fresh_since: float | None = None,
    ) -> Worktree:
        """Fetch the mirror and give a clean worktree on `branch` (from the remote branch if it exists):
        a pool slot reset to it if one is free, else a worktree of its own."""
        clone_url = self.policy.check(strip_userinfo(clone_url))
        check_key(key)
        self.mirrors.mkdir(parents=True, exist_ok=True)
        mirror = self.mirrors / mirror_name(clone_url)
        async with self._locked(mirror):
            await self._sync_mirror(clone_url, token, fresh_since)
            default_branch = check_ref(default_branch or await self._head(mirror))
            check_branch(branch, default_branch)
            base_ref, resumed, base = await self._start_point(mirror, branch, default_branch)
            slot = await self.pool.take(mirror, branch, base_ref) if self.pool.size else None
            path, git_dir = slot or await self._add(mirror, self.worktrees / key, branch, base_ref)
        tree = Worktree(path, branch, base, resumed, mirror, git_dir, clone_url, default_branch)
        self._trees[path] = tree
        return tree

    async def _head(self, mirror: Path) -> str:
        return (await self.git("symbolic-ref", "--short", "HEAD", cwd=mirror)).strip()

    async def _start_point(self, mirror: Path, branch: str, default_branch: str) -> tuple[str, bool, str]:
        """Where the branch starts (the remote branch if an earlier attempt pushed it, else the default branch),
        whether it resumes, and the default branch's commit: one git process for all three."""
        remote_branch, base_ref = f"refs/remotes/origin/{branch}", default_ref(default_branch)
        listed = await self.git("for-each-ref", "--format=%(refname) %(objectname)", remote_branch, base_ref,
                                cwd=mirror)
        commits = dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)
        if base_ref not in commits:
            raise GitError(f"the remote has no branch {default_branch!r} (its default branch, as configured)")
        if remote_branch in commits:
            return remote_branch, True, commits[base_ref]
        return base_ref, False, commits[base_ref]

    async def _add(self, mirror: Path, path: Path, branch: str, base_ref: str) -> tuple[Path, Path]:
        """A worktree of the work order's own, and its git folder (read before the agent runs)."""
        await self._discard(mirror, path)
        await self.git("worktree", "add", "--quiet", "-B", branch, "--", str(path), base_ref, cwd=mirror)
        return path, Path(await self.git("rev-parse", "--absolute-git-dir", cwd=path))

    async def _discard(self, mirror: Path, path: Path) -> None:
        """Forget a worktree left by a crashed attempt."""
        if path.exists() or path.is_symlink():
            safe_rmtree(self.worktrees, path)
        await self.git("worktree", "prune", cwd=mirror)

    async def staged_changes(self, tree: Worktree) -> tuple[list[str], str]:
        """Stage everything; then the files the agent changed, added or deleted (relative to the worktree) and
        the staged diff, asked at once (both only read the index)."""
        await self.git("add", "--all", cwd=tree.path)
        names, diff = await asyncio.gather(self._staged_names(tree), self.staged_diff(tree))
        return names, diff

    async def _staged_names(self, tree: Worktree) -> list[str]:
        names = await self.git("diff", "--cached", "--no-ext-diff", "--name-only", "HEAD", cwd=tree.path)
        return [line for line in names.splitlines() if line]

    async def staged_diff(self, tree: Worktree) -> str:
        """What would be committed, every file as text; no diff driver or textconv from the repository runs."""
        return await self.git("diff", "--cached", "--text", "--no-color", "--no-ext-diff", "--no-textconv",
                              "HEAD", "--", cwd=tree.path)

    async def commit(self, tree: Worktree, message: str, author: Identity) -> str:
        """The new commit's id, read from what `git commit` says (LC_ALL=C, ids unabbreviated) or else asked."""
        said = await self.git(
            "-c", f"user.name={author.name}", "-c", f"user.email={author.email}", "-c", "core.abbrev=no",
            "commit", "--no-verify", "--no-status", "-m", message, cwd=tree.path,
        )
        found = COMMITTED.match(said)
        return found.group(1) if found else await self.git("rev-parse", "HEAD", cwd=tree.path)

    async def unpushed(self, tree: Worktree) -> bool:
        """True if the branch has commits the remote has not seen."""
        remote = f"refs/remotes/origin/{tree.branch}"
        known = await self.git("for-each-ref", "--format=%(objectname)", remote, cwd=tree.path)
        head = await self.git("rev-parse", "HEAD", cwd=tree.path)
        return known != head and head != tree.base

    async def push(self, tree: Worktree, token: str | None) -> None:
        """Push the work branch; never the default branch, whatever the stored row says."""
        check_branch(tree.branch, tree.default_branch)
        refspec = f"HEAD:refs/heads/{tree.branch}"
        await self.git("push", "--quiet", "--no-verify", "origin", "--", refspec, cwd=tree.path, token=token)

    async def remove(self, tree: Worktree) -> None:
        """Give a slot back to the pool or remove the worktree, and delete the local branch, whatever state
        they are in (a slot is reset to its base now, and again when next taken)."""
        self._trees.pop(tree.path, None)
        mirror = tree.mirror
        pooled = self.pool.holds(tree.path)
        if not pooled and (tree.path.exists() or tree.path.is_symlink()):
            safe_rmtree(self.worktrees, tree.path)
        if mirror is not None:
            async with self._locked(mirror):
                self._pin_config(mirror, tree.remote)
                if pooled and tree.git_dir is not None:
                    await self.pool.give_back(mirror, tree.path, tree.git_dir, tree.base)
                await self.git("worktree", "prune", cwd=mirror)
                # not `branch -D`: a crashed attempt's slot may still have the branch checked out
                await self.git("update-ref", "-d", f"refs/heads/{check_ref(tree.branch)}", cwd=mirror)
        if pooled:
            await self.pool.bound()  # outside the lock: deleting slots takes a while, and prunes their mirrors


def default_ref(default_branch: str) -> str:
    return f"refs/remotes/origin/{default_branch}"
