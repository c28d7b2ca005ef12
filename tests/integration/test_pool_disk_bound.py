"""The pool's disk bound on real git, across mirrors and processes, and the retention sweep beside it.

Idle slots of every repository together stay under `pool_max_bytes`: the least recently used idle ones go,
a held one never does (separate `Checkout`s play separate worker processes: only the slot locks keep them
apart). The sweep and the pool work on the same folders: neither deletes what the other holds, and each
copes with what the other deleted.
"""

from __future__ import annotations

from pathlib import Path

from bot.checkout import Checkout, Worktree
from bot.models import Repository
from bot.pool import disk_usage, recorded
from bot.remotes import RemotePolicy
from bot.retention import Retention
from bot.store.sqlite import SqliteStore
from tests.gitrepo import git, make_remote

PATH = "/usr/local/bin:/usr/bin:/bin"


def checkout_in(tmp_path: Path, max_bytes: int = 0) -> Checkout:
    (tmp_path / "home").mkdir(exist_ok=True)
    return Checkout(tmp_path / "data", {"PATH": PATH, "HOME": str(tmp_path / "home")}, timeout=30,
                    policy=RemotePolicy(protocols=("file",)), pool_slots=2, pool_max_bytes=max_bytes)


async def prepare(checkout: Checkout, remote: Path, number: int) -> Worktree:
    return await checkout.prepare(str(remote), f"claude/issue-{number}", f"wo-{number:08x}", "main", None)


def slot_names(tmp_path: Path) -> set[str]:
    root = tmp_path / "data" / "worktrees"
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def registered(tree: Worktree) -> str:
    """The worktrees the slot's mirror knows of."""
    assert tree.mirror is not None
    return git("worktree", "list", "--porcelain", cwd=tree.mirror)


async def test_the_least_recently_used_idle_slots_go_when_over_the_bound_and_a_held_one_never(
    tmp_path: Path,
) -> None:
    one, other = make_remote(tmp_path / "one"), make_remote(tmp_path / "other")
    unbounded = checkout_in(tmp_path)
    a0, a1, b0 = [await prepare(unbounded, remote, n) for n, remote in enumerate((one, one, other), start=1)]
    for tree in (a0, a1, b0):  # given back oldest first
        await unbounded.remove(tree)
    size = recorded(a0.path)
    assert size is not None and size == disk_usage(a0.path) > 0
    worker = checkout_in(tmp_path, max_bytes=size * 3 // 2)  # room for one idle slot
    held = await prepare(worker, one, 4)
    assert held.path == a0.path  # the least recently used, but held
    (held.path / "wip.txt").write_text("work in progress\n")

    bounded = checkout_in(tmp_path, max_bytes=size * 3 // 2)
    await bounded.remove(await prepare(bounded, other, 5))  # b0 is the most recently used now
    assert slot_names(tmp_path) == {a0.path.name, b0.path.name}  # a1 went, the held a0 stayed
    assert (held.path / "wip.txt").read_text() == "work in progress\n"
    assert str(a1.path) not in registered(a0) and str(a0.path) in registered(a0)

    await worker.remove(held)  # a0 idle again and the most recent: b0, older, goes
    assert slot_names(tmp_path) == {a0.path.name}
    assert not (a0.path / "wip.txt").exists()
    again = await prepare(bounded, other, 6)  # a deleted slot is simply added again
    assert again.path == b0.path and (again.path / "README.md").exists()
    await bounded.remove(again)


async def test_an_unbounded_pool_keeps_every_slot(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "one")
    checkout = checkout_in(tmp_path)
    trees = [await prepare(checkout, remote, n) for n in (1, 2)]
    for tree in trees:
        await checkout.remove(tree)
    assert slot_names(tmp_path) == {t.path.name for t in trees}


async def test_the_sweep_and_the_pool_leave_each_other_what_they_hold(
    store: SqliteStore, tmp_path: Path,
) -> None:
    kept, gone = make_remote(tmp_path / "kept"), make_remote(tmp_path / "gone")
    await store.add_repository(Repository(repository_url=str(kept), clone_url=str(kept)))
    checkout = checkout_in(tmp_path)
    kept_tree, gone_tree = await prepare(checkout, kept, 1), await prepare(checkout, gone, 2)
    (gone_tree.path / "wip.txt").write_text("work in progress\n")
    retention = Retention(store, tmp_path / "data")

    assert (await retention.sweep()).mirrors == ()  # the unconfigured mirror's slot is held: kept
    assert (gone_tree.path / "wip.txt").exists()
    await checkout.remove(gone_tree)
    assert (await retention.sweep()).mirrors == (gone_tree.mirror.name if gone_tree.mirror else "",)
    assert slot_names(tmp_path) == {kept_tree.path.name}  # the held slot of the configured one untouched

    bounded = checkout_in(tmp_path, max_bytes=1)  # the swept slot counts nothing and is not looked for
    await bounded.remove(await prepare(bounded, gone, 3))  # the mirror cloned again, its slot added again
    assert slot_names(tmp_path) == {kept_tree.path.name}  # over the bound: the idle one went, the held stayed
    await checkout.remove(kept_tree)
