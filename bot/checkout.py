"""The only code that runs git: a bare mirror per repository, a worktree per work order, commit, push.

Nothing a repository or the agent writes may run code here: hooks, fsmonitor, filters and other config
are pinned (command-line `-c`, a config file rewritten to what the bot wrote, no system or global
config), worktree commands name their git folder instead of following the worktree's `.git` file, and
the token travels as a header scoped to the GitHub host, in the environment of the one command.
What it hands out (a `Worktree`, and the pure helpers that find where one starts) is in `bot.worktree`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from bot import pin, process, reapply
from bot.errors import GitError
from bot.gitsafe import (
    auth_env,
    check_branch,
    check_key,
    check_ref,
    hardened_env,
    mirror_config,
    mirror_name,
    pinned_args,
    safe_rmtree,
)
from bot.pool import Pool
from bot.remotes import RemotePolicy, strip_userinfo
from bot.worktree import Early, Identity, Worktree, default_ref, start_commit, start_point

log = logging.getLogger(__name__)
IGNORED_BY_BOT = ".claude/\n"
PUSH_ROUNDS = 3  # a push, and up to two re-applications on a branch that moved meanwhile
COMMITTED = re.compile(r"^\[\S+ (?:\(root-commit\) )?([0-9a-f]{40}|[0-9a-f]{64})\] ")  # `[branch id] subject`


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
        self._early: dict[str, tuple[Early, float, Worktree]] = {}  # work order id -> a slot readied at its claim
        self.pool = Pool(self.worktrees, self.mirrors, pool_slots, self.git, safe_rmtree, pool_max_bytes)

    async def git(self, *args: str, cwd: Path, token: str | None = None) -> str:
        return (await self._run(*args, cwd=cwd, token=token)).stdout.strip()

    async def _run(self, *args: str, cwd: Path, token: str | None = None, check: bool = True) -> process.Completed:
        env = {**self.base_env, **auth_env(token, self.policy.origin)}
        argv = ["git", *pinned_args(self.policy), *self._located(cwd), *args]
        result = await process.run(argv, cwd=cwd, env=env, timeout=self.timeout)
        if check and result.returncode != 0:
            verb = next((a for a in args if not a.startswith("-") and "=" not in a), "command")
            detail = "timed out" if result.timed_out else result.stderr.strip()[-500:]
            raise GitError(f"git {verb} failed: {detail}")
        return result

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
        self._pin_mirror(mirror, clone_url)
        if fresh_since is None or self._fetched.get(mirror, float("-inf")) < fresh_since:
            await self._fetch(mirror, token)
        return mirror

    def _pin_mirror(self, mirror: Path, clone_url: str) -> None:
        self._pin_config(mirror, clone_url)
        (mirror / "info").mkdir(exist_ok=True)
        (mirror / "info" / "exclude").write_text(IGNORED_BY_BOT)

    async def _fetch(self, mirror: Path, token: str | None) -> bool:
        """Fetch; did it change any ref? (git reports each ref it updates or prunes, and nothing else here.) Its
        garbage collection waits for `remove` (off the path to the agent); FETCH_HEAD, which nothing reads, is
        not written; forced updates are not looked for, as nothing reads that report."""
        started = time.time()
        fetched = await self._run("-c", "advice.fetchShowForcedUpdates=false", "fetch", "--prune", "--no-auto-gc",
                                  "--no-write-fetch-head", "--no-show-forced-updates", "origin",
                                  cwd=mirror, token=token)
        self._fetched[mirror] = started
        return bool(fetched.stderr.strip())

    async def refresh(
        self, clone_url: str, token: str | None, branch: str | None = None, key: str | None = None,
        default_branch: str | None = None, pull_request: bool = False,
    ) -> None:
        """Fetch an existing mirror ahead of `prepare` (say, while other calls are under way); `prepare` given a
        `fresh_since` before this began then skips its own fetch. Given the work order's `branch` and `key`, a
        free pool slot is readied for it while the mirror fetches, and `prepare` hands that slot out. A mirror
        not cloned yet is left to `prepare`: only a work order allowed to run makes the bot clone a repository."""
        clone_url = self.policy.check(strip_userinfo(clone_url))
        mirror = self.mirrors / mirror_name(clone_url)
        if not (mirror / "HEAD").exists():
            return
        async with self._locked(mirror):
            self._pin_mirror(mirror, clone_url)
            if branch is None or key is None or not self.pool.size:
                await self._fetch(mirror, token)
                return
            await self._ready_early(Early(clone_url, branch, key, default_branch, pull_request), mirror, token)

    async def _ready_early(self, want: Early, mirror: Path, token: str | None) -> None:
        """Reset a free slot to the start point the mirror has while it fetches (two of our own git processes in
        one mirror at once: the fetch writes only remote refs and objects, the slot its own branch and files);
        moved after the fetch if that changed any ref. Kept for `prepare`; freed if the fetch fails."""
        fetching = asyncio.ensure_future(self._fetch(mirror, token))
        try:
            readied = await self._early_slot(want, mirror)
        finally:
            [changed] = await asyncio.gather(fetching, return_exceptions=True)
        if readied is None:
            if isinstance(changed, BaseException):
                raise changed
            return
        tree, listed = readied
        try:
            if isinstance(changed, BaseException):
                raise changed
            tree = await self._follow(tree, listed) if changed else tree
        except BaseException:
            self.pool.release(tree.path)
            raise
        self.forget(want.key)
        self._early[want.key] = (want, self._fetched[mirror], tree)

    async def _early_slot(self, want: Early, mirror: Path) -> tuple[Worktree, str] | None:
        """A free slot on the work order's branch at its start point as the mirror has it now, and the refs that
        start point came from; None if every slot is busy or the checkout step should say why it cannot."""
        try:
            check_key(want.key)
            default_branch = check_ref(want.default_branch or await self._head(mirror))
            check_branch(want.branch, default_branch, want.pull_request)
            listed = await self._refs(mirror, want.branch, default_branch)
            base_ref, resumed, base = start_point(listed, want.branch, default_branch, want.pull_request)
            slot = await self.pool.take(mirror, want.branch, base_ref)
        except GitError:
            return None
        if slot is None:
            return None
        tree = Worktree(slot[0], want.branch, base, resumed, mirror, slot[1], want.clone_url, default_branch,
                        start_commit(listed, base_ref), pull_request=want.pull_request)
        return tree, listed

    async def _follow(self, tree: Worktree, listed: str) -> Worktree:
        """The slot moved to the start point the fetch brought, if it brought another (the slot, verified clean
        and held since, needs no second check)."""
        assert tree.mirror is not None and tree.git_dir is not None
        now = await self._refs(tree.mirror, tree.branch, tree.default_branch)
        if now == listed:
            return tree
        base_ref, resumed, base = start_point(now, tree.branch, tree.default_branch)
        await self.pool.move(tree.path, tree.git_dir, tree.branch, base_ref)
        return replace(tree, base=base, resumed=resumed, start=start_commit(now, base_ref))

    def _claim_early(self, want: Early, fresh_since: float | None) -> Worktree | None:
        """The slot `refresh` readied for this very request, if its fetch began after `fresh_since`; any other
        is freed (reset in full at its next take)."""
        found = self._early.pop(want.key, None)
        if found is None:
            return None
        wanted, fetched, tree = found
        if wanted == want and fresh_since is not None and fetched >= fresh_since:
            return tree
        self.pool.release(tree.path)
        return None

    def forget(self, key: str) -> None:
        """The work order ended without taking the slot readied for it: free it, as a crash would."""
        found = self._early.pop(key, None)
        if found is not None:
            self.pool.release(found[2].path)

    async def prepare(
        self, clone_url: str, branch: str, key: str, default_branch: str | None, token: str | None,
        fresh_since: float | None = None, pull_request: bool = False,
    ) -> Worktree:
        """Fetch the mirror and give a clean worktree on `branch` (from the remote branch if it exists):
        the slot readied for it by `refresh`, else a pool slot reset to it if one is free, else a worktree of its
        own."""
        clone_url = self.policy.check(strip_userinfo(clone_url))
        check_key(key)
        readied = self._claim_early(Early(clone_url, branch, key, default_branch, pull_request), fresh_since)
        if readied is not None:
            self._trees[readied.path] = readied
            return readied
        self.mirrors.mkdir(parents=True, exist_ok=True)
        mirror = self.mirrors / mirror_name(clone_url)
        async with self._locked(mirror):
            await self._sync_mirror(clone_url, token, fresh_since)
            default_branch = check_ref(default_branch or await self._head(mirror))
            check_branch(branch, default_branch, pull_request)
            listed = await self._refs(mirror, branch, default_branch)
            base_ref, resumed, base = start_point(listed, branch, default_branch, pull_request)
            slot = await self.pool.take(mirror, branch, base_ref) if self.pool.size else None
            path, git_dir = slot or await self._add(mirror, self.worktrees / key, branch, base_ref)
        tree = Worktree(path, branch, base, resumed, mirror, git_dir, clone_url, default_branch,
                        start_commit(listed, base_ref), pull_request=pull_request)
        self._trees[path] = tree
        return tree

    async def seed(self, clone_url: str, source: Path) -> bool:
        """Make the mirror of `clone_url` from a full local clone of it (a runner's GITHUB_WORKSPACE checkout): its
        objects hard-linked, not downloaded again, and `prepare` then fetches only what the remote has beyond them.
        Never from a shallow clone (its history is incomplete) nor over an existing mirror; False if not seeded."""
        clone_url = self.policy.check(strip_userinfo(clone_url))
        mirror = self.mirrors / mirror_name(clone_url)
        git_dir = source / ".git"
        if (mirror / "HEAD").exists() or not (git_dir / "HEAD").is_file() or (git_dir / "shallow").exists():
            return False
        self.mirrors.mkdir(parents=True, exist_ok=True)
        async with self._locked(mirror):
            await self.git("-c", "protocol.file.allow=always", "clone", "--bare", "--local", "--quiet", "--",
                           str(git_dir), str(mirror), cwd=self.mirrors)
            self._pin_mirror(mirror, clone_url)  # the source's config, hooks and remotes are not the bot's
        return True

    async def _head(self, mirror: Path) -> str:
        return (await self.git("symbolic-ref", "--short", "HEAD", cwd=mirror)).strip()

    async def _refs(self, mirror: Path, branch: str, default_branch: str) -> str:
        """Where the branch starts (the remote branch if an earlier attempt pushed it, else the default branch),
        whether it resumes, and the default branch's commit all come from this one listing: the commits of the
        remote branch and of the default branch, as the mirror has them now."""
        return await self.git("for-each-ref", "--format=%(refname) %(objectname)", f"refs/remotes/origin/{branch}",
                              default_ref(default_branch), cwd=mirror)

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

    async def drop_changes(self, tree: Worktree, paths: list[str]) -> None:
        """Put these staged paths back as HEAD has them, in the index and the worktree (one added since is
        removed): a repository's protected paths are never committed."""
        if paths:
            await self.git("--literal-pathspecs", "restore", "--source=HEAD", "--staged", "--worktree", "--",
                           *paths, cwd=tree.path)

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

    async def pin_agent_config(self, tree: Worktree, base_branch: str) -> Worktree:
        """Make the agent's configuration in the worktree's files as the base branch's commit has it (see
        `pin`); the tree returned records what changed, for `unpin`."""
        commit = await self.git("rev-parse", "--verify", f"{default_ref(check_ref(base_branch))}^{{commit}}",
                                cwd=tree.path)
        pinned, record = await pin.to_base(self.git, tree.path, commit)
        if pinned:
            log.info("agent configuration pinned to %s at %s: %d path(s)", base_branch, commit[:12], len(pinned))
        self._trees[tree.path] = replace(tree, pinned=pinned, pin_record=record)
        return self._trees[tree.path]

    async def unpin(self, tree: Worktree) -> list[str]:
        """Put every pinned path back as HEAD has it, so the pinning is never committed; the pinned paths the
        agent edited meanwhile (their edits are dropped: the caller says so). Nothing pinned: no git runs."""
        if not tree.pinned or tree.pin_record is None:
            return []
        return await pin.back_to_head(self.git, tree.path, tree.pinned, tree.pin_record)

    async def commits_since_start(self, tree: Worktree) -> list[str]:
        """The bot's own commits on the branch (full ids, oldest first): those after the commit they sit on,
        which `push` moves when it re-applies them on a moved remote branch."""
        start = self._trees.get(tree.path, tree).start or tree.start or tree.base
        listed = await self.git("rev-list", "--reverse", "HEAD", f"^{start}", cwd=tree.path)
        return listed.split()

    async def push(self, tree: Worktree, token: str | None) -> str:
        """Push the work branch, never forced and never the default branch, whatever the stored row says; the
        commit pushed. A branch that moved on the remote meanwhile: the bot's commits are re-applied on its
        new head and pushed again, or, if they do not apply, nothing is pushed and GitError says why."""
        check_branch(tree.branch, tree.default_branch, tree.pull_request)
        refspec = f"HEAD:refs/heads/{tree.branch}"
        for rounds_left in reversed(range(PUSH_ROUNDS)):
            pushed = await self._run("push", "--porcelain", "--no-verify", "origin", "--", refspec,
                                     cwd=tree.path, token=token, check=False)
            if pushed.returncode == 0:
                return await self.git("rev-parse", "HEAD", cwd=tree.path)
            if not reapply.moved(pushed.stdout) or tree.mirror is None:
                raise GitError(f"git push failed: {pushed.stderr.strip()[-500:]}")
            if rounds_left:
                await self._reapply(tree, await self._fetch_branch(tree, tree.mirror, token))
        raise GitError(f"the branch `{tree.branch}` kept moving on the remote while the bot pushed; nothing was "
                       "pushed. Trigger the work again to redo it on the new head.")

    async def _fetch_branch(self, tree: Worktree, mirror: Path, token: str | None) -> str:
        """The work branch's commit on the remote now, fetched into the mirror under its lock."""
        remote = f"refs/remotes/origin/{check_ref(tree.branch)}"
        async with self._locked(mirror):
            self._pin_config(mirror, tree.remote)
            await self.git("fetch", "--no-auto-gc", "--no-write-fetch-head", "origin",
                           f"+refs/heads/{tree.branch}:{remote}", cwd=mirror, token=token)
            return await self.git("rev-parse", "--verify", f"{remote}^{{commit}}", cwd=mirror)

    async def _reapply(self, tree: Worktree, onto: str) -> None:
        commits = await self.commits_since_start(tree)
        log.info("%s moved on the remote to %s: re-applying %d commit(s)", tree.branch, onto[:12], len(commits))
        await reapply.cherry_pick(self._run, tree.path, tree.branch, commits, onto)
        self._trees[tree.path] = replace(self._trees.get(tree.path, tree), start=onto)

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
                await self.git("gc", "--auto", "--quiet", cwd=mirror)  # what the fetches leave for later
        if pooled:
            await self.pool.bound()  # outside the lock: deleting slots takes a while, and prunes their mirrors
