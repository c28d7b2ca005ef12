"""The worktree pool on real git: a slot is reused, writes only what differs, and nothing leaks between work orders.

Each test plays what a work order or a crash leaves behind (untracked, ignored, modified, deleted files,
`.claude/`, a nested repository, a rewritten `.git` pointer, a broken index, a process killed while
holding a slot) and checks the files the next work order sees, on disk.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.checkout import Checkout, Worktree
from bot.process import Completed
from bot.remotes import RemotePolicy
from tests.gitrepo import git, make_remote

PATH = "/usr/local/bin:/usr/bin:/bin"
FILES = {"README.md": "# Hello\n", ".gitignore": "*.log\nbuild/\n", "src/app.py": "print(1)\n",
         "src/keep.txt": "unchanged\n", "docs/old.md": "old\n"}


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "remotes", files=FILES)


def checkout_in(tmp_path: Path, slots: int) -> Checkout:
    (tmp_path / "home").mkdir(exist_ok=True)
    return Checkout(tmp_path / "data", {"PATH": PATH, "HOME": str(tmp_path / "home")}, timeout=30,
                    policy=RemotePolicy(protocols=("file",)), pool_slots=slots)


def upstream_commit(remote: Path, path: str, text: str) -> str:
    """A new commit on the remote's main (the next work order's base moves)."""
    seed = remote.parent / "pusher"
    if not seed.exists():
        git("clone", "--quiet", str(remote), str(seed), cwd=remote.parent)
    git("pull", "--quiet", "origin", "main", cwd=seed)
    (seed / path).parent.mkdir(parents=True, exist_ok=True)
    (seed / path).write_text(text)
    git("add", "--all", cwd=seed)
    git("commit", "--quiet", "-m", f"change {path}", cwd=seed)
    git("push", "--quiet", "origin", "HEAD:main", cwd=seed)
    return git("rev-parse", "HEAD", cwd=seed)


def identity(path: Path) -> tuple[int, int]:
    """Changes when the file is written anew (a reset that rewrote it, or a slot added again)."""
    found = path.stat()
    return found.st_ino, found.st_mtime_ns


def files_in(root: Path) -> dict[str, str]:
    """Every file and link under a worktree (its `.git` pointer aside), with its content."""
    found: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        for name in names + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if rel != ".git":
                found[rel] = os.readlink(path) if path.is_symlink() else path.read_text()
    return found


async def prepare(checkout: Checkout, remote: Path, key: str, issue: int = 1) -> Worktree:
    return await checkout.prepare(str(remote), f"claude/issue-{issue}-{key[3:]}", key, "main", None)


def leave_a_mess(root: Path) -> None:
    """What an agent can leave: every kind of file state git knows, and some it ignores."""
    (root / "README.md").write_text("# modified\n")
    (root / "docs" / "old.md").unlink()
    (root / "new.txt").write_text("untracked\n")
    (root / "debug.log").write_text("ignored\n")
    (root / "build").mkdir()
    (root / "build" / "out.bin").write_text("ignored folder\n")
    (root / ".claude").mkdir()
    (root / ".claude" / "settings.json").write_text("{}\n")
    (root / "src" / "link").symlink_to("/etc")
    git("init", "--quiet", str(root / "vendor"), cwd=root)
    (root / "vendor" / "nested.txt").write_text("nested repository\n")


async def test_nothing_one_work_order_leaves_reaches_the_next(tmp_path: Path, remote: Path) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await prepare(checkout, remote, "wo-0000000a")
    keep = identity(first.path / "src" / "keep.txt")
    leave_a_mess(first.path)
    await checkout.remove(first)
    moved = upstream_commit(remote, "src/app.py", "print(2)\n")

    second = await prepare(checkout, remote, "wo-0000000b", issue=2)
    assert second.path == first.path, "the slot is reused"
    assert second.base == moved and second.branch == "claude/issue-2-0000000b"
    assert files_in(second.path) == {**FILES, "src/app.py": "print(2)\n"}
    # only what differs was written: an unchanged file is the very same file
    assert identity(second.path / "src" / "keep.txt") == keep
    assert git("status", "--porcelain", "--ignored", cwd=second.path) == ""
    await checkout.remove(second)


async def test_a_given_back_slot_keeps_nothing_of_its_work_order(tmp_path: Path, remote: Path) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    tree = await prepare(checkout, remote, "wo-0000000a")
    leave_a_mess(tree.path)
    await checkout.remove(tree)
    assert files_in(tree.path) == FILES
    assert "claude/issue-1-0000000a" not in git("branch", "--list", cwd=tree.mirror or tmp_path)


CRASH = """
import asyncio, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.integration.test_worktree_pool import checkout_in, leave_a_mess, prepare
async def main():
    tree = await prepare(checkout_in(Path(sys.argv[2]), slots=int(sys.argv[4])), Path(sys.argv[3]), "wo-0000000c")
    leave_a_mess(tree.path)
    os._exit(0)  # dies holding the slot: no remove, no reset
asyncio.run(main())
"""


def crash(tmp_path: Path, remote: Path, slots: int) -> None:
    """Another process takes a slot for wo-0000000c, makes a mess in it and dies without giving it back."""
    project = str(Path(__file__).resolve().parents[2])
    argv = [sys.executable, "-c", CRASH, project, str(tmp_path), str(remote), str(slots)]
    subprocess.run(argv, check=True, timeout=60)


async def test_a_crashed_work_orders_slot_is_reset_not_reused_dirty(tmp_path: Path, remote: Path) -> None:
    crash(tmp_path, remote, slots=1)
    checkout = checkout_in(tmp_path, slots=1)
    [slot] = [p for p in (tmp_path / "data" / "worktrees").iterdir() if p.is_dir()]
    assert (slot / "new.txt").exists(), "the crashed work order left its files"
    keep = identity(slot / "src" / "keep.txt")

    retry = await prepare(checkout, remote, "wo-0000000c")  # the same work order again, same branch
    assert retry.path == slot
    assert files_in(retry.path) == FILES
    assert identity(slot / "src" / "keep.txt") == keep, "reset in place, not deleted and added again"
    await checkout.remove(retry)


async def test_a_slot_never_given_back_is_cleaned_even_when_git_status_shows_nothing(
    tmp_path: Path, remote: Path
) -> None:
    crashed = checkout_in(tmp_path, slots=1)
    await crashed.remove(await prepare(crashed, remote, "wo-00000009"))  # given back cleaned once
    tree = await prepare(crashed, remote, "wo-0000000a")
    (tree.path / "build" / "cache").mkdir(parents=True)  # empty folders: `git status` never shows them
    del crashed  # its process ends holding the slot: no give-back, the lock freed
    gc.collect()

    retry = await prepare(checkout_in(tmp_path, slots=1), remote, "wo-0000000a")
    assert retry.path == tree.path
    assert not (retry.path / "build").exists()


async def test_files_put_into_an_idle_slot_after_its_give_back_are_removed_at_the_next_take(
    tmp_path: Path, remote: Path
) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await prepare(checkout, remote, "wo-0000000a")
    await checkout.remove(first)
    (first.path / "new.txt").write_text("put there while idle\n")
    (first.path / "debug.log").write_text("ignored\n")

    second = await prepare(checkout, remote, "wo-0000000b", issue=2)
    assert second.path == first.path
    assert files_in(second.path) == FILES
    await checkout.remove(second)


async def test_a_slot_whose_git_pointer_was_rewritten_is_added_again(tmp_path: Path, remote: Path) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await prepare(checkout, remote, "wo-0000000a")
    decoy = tmp_path / "decoy"
    git("init", "--quiet", str(decoy), cwd=tmp_path)
    (first.path / ".git").write_text(f"gitdir: {decoy / '.git'}\n")
    await checkout.remove(first)

    second = await prepare(checkout, remote, "wo-0000000b", issue=2)
    assert second.path == first.path and second.git_dir == first.git_dir
    assert (second.path / ".git").read_text() == f"gitdir: {first.git_dir}\n"
    assert files_in(second.path) == FILES
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=second.path) == "claude/issue-2-0000000b"
    await checkout.remove(second)


async def test_a_slot_that_cannot_be_reset_is_added_again(tmp_path: Path, remote: Path) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await prepare(checkout, remote, "wo-0000000a")
    await checkout.remove(first)
    assert first.git_dir is not None
    (first.git_dir / "index").write_bytes(b"not an index")  # git refuses to read it
    (first.path / "new.txt").write_text("left behind\n")

    second = await prepare(checkout, remote, "wo-0000000b", issue=2)
    assert second.path == first.path
    assert files_in(second.path) == FILES
    await checkout.remove(second)


async def test_slots_are_bounded_and_never_shared(tmp_path: Path, remote: Path) -> None:
    # separate Checkouts, as separate worker processes would have: only the slot locks keep them apart
    checkouts = [checkout_in(tmp_path, slots=2) for _ in range(3)]
    trees = await asyncio.gather(*(prepare(c, remote, f"wo-0000000{n}", issue=n)
                                   for n, c in enumerate(checkouts, start=1)))
    assert len({t.path for t in trees}) == 3
    root = tmp_path / "data" / "worktrees"
    slots = sorted(t.path.name for t in trees if t.path.name.startswith("slot-"))
    assert [name[:7] for name in slots] == ["slot-0-", "slot-1-"]
    assert sum(t.path.name.startswith("wo-") for t in trees) == 1  # all busy: a worktree of its own
    for checkout, tree in zip(checkouts, trees, strict=True):
        await checkout.remove(tree)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == slots

    fewer = checkout_in(tmp_path, slots=1)
    tree = await prepare(fewer, remote, "wo-00000004", issue=4)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == slots[:1] == [tree.path.name]
    await fewer.remove(tree)


async def test_a_slot_replaced_by_a_link_is_added_again_and_the_target_left_alone(
    tmp_path: Path, remote: Path
) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await prepare(checkout, remote, "wo-0000000a")
    await checkout.remove(first)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("mine\n")
    os.rename(first.path, tmp_path / "moved-away")
    first.path.symlink_to(outside)

    second = await prepare(checkout, remote, "wo-0000000b", issue=2)
    assert second.path == first.path and not second.path.is_symlink()
    assert files_in(second.path) == FILES
    assert files_in(outside) == {"precious.txt": "mine\n"}
    await checkout.remove(second)


async def test_a_retry_in_another_slot_than_its_crashed_attempt_works_and_frees_both(
    tmp_path: Path, remote: Path
) -> None:
    checkout = checkout_in(tmp_path, slots=2)
    busy = await prepare(checkout, remote, "wo-0000000a")  # slot 0 taken: the crashed attempt gets slot 1
    crash(tmp_path, remote, slots=2)
    await checkout.remove(busy)

    retry = await prepare(checkout, remote, "wo-0000000c")  # slot 0, while slot 1 still has its branch out
    assert retry.path == busy.path
    await checkout.remove(retry)
    assert "claude/" not in git("branch", "--list", cwd=retry.mirror or tmp_path)
    other = checkout_in(tmp_path, slots=2)
    both = await asyncio.gather(prepare(checkout, remote, "wo-0000000d", issue=4),
                                prepare(other, remote, "wo-0000000e", issue=5))
    assert {t.path.name[:7] for t in both} == {"slot-0-", "slot-1-"}  # the crashed slot, reset, serves again
    for owner, tree in zip((checkout, other), both, strict=True):
        assert files_in(tree.path) == FILES
        await owner.remove(tree)


async def test_an_early_fetch_spares_the_checkout_one_only_if_it_began_after_the_claim(
    tmp_path: Path, remote: Path,
) -> None:
    checkout = checkout_in(tmp_path, 1)
    await checkout.refresh(str(remote), None)
    assert not (tmp_path / "data" / "mirrors").exists()  # nothing to refresh: only a checkout clones
    await checkout.remove(await prepare(checkout, remote, "wo-00000000"))  # an earlier work order's fetch
    claimed_at = time.time()
    newer = upstream_commit(remote, "late.txt", "pushed after that fetch, before this claim's checkout\n")
    tree = await checkout.prepare(str(remote), "claude/issue-1-00000001", "wo-00000001", "main", None,
                                  fresh_since=claimed_at)
    assert tree.base == newer  # the earlier fetch was too old: the checkout fetched again
    await checkout.remove(tree)
    claimed_at = time.time()
    await checkout.refresh(str(remote), None)  # this claim's own early fetch
    fetches: list[tuple[str, ...]] = []
    real_run = checkout._run  # every git command goes through it

    async def recording(*args: str, **kwargs: object) -> Completed:
        fetches.extend([args] if "fetch" in args else [])
        return await real_run(*args, **kwargs)  # type: ignore[arg-type]

    checkout._run = recording  # type: ignore[method-assign]
    tree = await checkout.prepare(str(remote), "claude/issue-2-00000002", "wo-00000002", "main", None,
                                  fresh_since=claimed_at)
    assert fetches == [] and tree.base == newer
    await checkout.remove(tree)
