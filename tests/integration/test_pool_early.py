"""A pool slot readied at the claim, while the mirror fetches: the checkout step gets it at the start point the
fetch brought, with no git process of its own; a slot readied for a work order that never gets to its checkout
is freed for the next one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.checkout import Checkout
from bot.models import Status
from bot.pool import recorded, try_lock
from bot.process import Completed
from bot.runtime import Runtime
from bot.testing import FakeGitHub
from tests.integration.test_work_orders import claim_and_run, engine, order, remote  # noqa: F401 - fixtures
from tests.integration.test_worktree_pool import FILES, checkout_in, files_in, upstream_commit
from tests.integration.test_worktree_pool import remote as files_remote  # noqa: F401 - fixture

BRANCH, KEY = "claude/issue-2-00000002", "wo-00000002"


def recording(checkout: Checkout) -> list[tuple[str, ...]]:
    """Every git command the checkout (and its pool) runs from now on."""
    calls: list[tuple[str, ...]] = []
    real_run = checkout._run

    async def record(*args: str, **kwargs: object) -> Completed:
        calls.append(args)
        return await real_run(*args, **kwargs)  # type: ignore[arg-type]

    checkout._run = record  # type: ignore[method-assign]
    return calls


async def warm(tmp_path: Path, origin: Path) -> Checkout:
    """A checkout with one pool slot whose mirror is cloned and whose slot an earlier work order gave back."""
    checkout = checkout_in(tmp_path, slots=1)
    await checkout.remove(await checkout.prepare(str(origin), "claude/issue-1-00000001", "wo-00000001", "main", None))
    return checkout


async def test_a_slot_readied_while_the_mirror_fetches_starts_from_what_the_fetch_brought(
    tmp_path: Path, files_remote: Path,  # noqa: F811
) -> None:
    checkout = await warm(tmp_path, files_remote)
    moved = upstream_commit(files_remote, "src/app.py", "print(2)\n")  # the mirror has not seen it yet
    claimed_at = time.time()
    await checkout.refresh(str(files_remote), None, BRANCH, KEY, "main")

    calls = recording(checkout)
    tree = await checkout.prepare(str(files_remote), BRANCH, KEY, "main", None, fresh_since=claimed_at)
    assert calls == []  # fetched and reset at the claim
    assert tree.base == moved and tree.branch == BRANCH and tree.path.name.startswith("slot-0-")
    assert files_in(tree.path) == {**FILES, "src/app.py": "print(2)\n"}
    await checkout.remove(tree)


async def test_a_readied_slot_is_not_handed_to_another_request_nor_after_a_stale_fetch(
    tmp_path: Path, files_remote: Path,  # noqa: F811
) -> None:
    checkout = await warm(tmp_path, files_remote)
    await checkout.refresh(str(files_remote), None, BRANCH, KEY, "main")
    moved = upstream_commit(files_remote, "late.txt", "pushed after the early fetch, before this claim\n")
    tree = await checkout.prepare(str(files_remote), BRANCH, KEY, "main", None, fresh_since=time.time())
    assert tree.base == moved and (tree.path / "late.txt").exists()  # fetched again, the same slot reset
    await checkout.remove(tree)

    await checkout.refresh(str(files_remote), None, BRANCH, KEY, "main")
    other = await checkout.prepare(str(files_remote), "claude/issue-3-00000003", "wo-00000003", "main", None)
    assert other.path.name == "wo-00000003"  # the only slot is kept for the work order it was readied for
    await checkout.remove(other)
    checkout.forget(KEY)


async def test_a_slot_readied_for_a_work_order_that_ends_before_its_checkout_is_freed(
    tmp_path: Path, files_remote: Path,  # noqa: F811
) -> None:
    checkout = checkout_in(tmp_path, slots=1)
    first = await checkout.prepare(str(files_remote), "claude/issue-1-00000001", "wo-00000001", "main", None)
    await checkout.remove(first)
    await checkout.refresh(str(files_remote), None, BRANCH, KEY, "main")
    assert try_lock(first.path) is None  # held for the work order's checkout step
    checkout.forget(KEY)

    other = checkout_in(tmp_path, slots=1)  # another process: it gets the slot, reset in full
    tree = await other.prepare(str(files_remote), "claude/issue-3-00000003", "wo-00000003", "main", None)
    assert tree.path == first.path and files_in(tree.path) == FILES
    await other.remove(tree)


async def test_a_work_order_refused_at_its_claim_frees_the_slot_readied_for_it(
    engine: Runtime, remote: Path, github: FakeGitHub,  # noqa: F811
) -> None:
    first = await claim_and_run(engine, order(remote, "w"))  # the mirror cloned, its slot given back
    assert first.status is Status.COMPLETED
    [slot] = [p for p in (engine.settings.data_dir / "worktrees").iterdir() if p.is_dir()]
    assert recorded(slot) is not None
    github.permissions["Codertocat"] = "read"  # demoted while the next one waited
    assert engine.worker is not None
    await engine.store.create_work_order(order(remote, "w", issue_number=8))
    claimed = await engine.store.claim(engine.worker.worker_id, 60)
    assert claimed is not None
    refused = await asyncio.create_task(engine.worker.work(claimed))  # a task per work order, as the worker runs it
    assert refused.status is Status.FAILED
    deadline = time.monotonic() + 10
    while (lease := try_lock(slot)) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert lease is not None, "the slot readied at the claim was never freed"
    lease.handle.close()
    assert recorded(slot) is None  # it was taken at the claim (and is reset in full at its next take)
