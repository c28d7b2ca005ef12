"""Retention: old deliveries, mirrors of unconfigured repositories and orphaned worktrees go; nothing in use does."""

from __future__ import annotations

import fcntl
import time
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.checkout import Checkout, mirror_name
from bot.models import Delivery, Repository, Status, WorkOrder, utcnow
from bot.retention import Retention
from bot.runtime import build_runtime
from bot.store.sqlite import SqliteStore
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.gitrepo import make_remote

CONFIGURED = "https://github.com/octo/kept"
GONE = "https://github.com/octo/gone.git"


def fake_mirror(data: Path, url: str) -> Path:
    mirror = data / "mirrors" / mirror_name(url)
    (mirror / "objects").mkdir(parents=True)
    (mirror / "HEAD").write_text("ref: refs/heads/main\n")
    return mirror


def worktree(data: Path, key: str) -> Path:
    path = data / "worktrees" / key
    path.mkdir(parents=True)
    (path / "file.txt").write_text("work in progress\n")
    return path


async def work_order(store: SqliteStore, status: Status, url: str = CONFIGURED) -> WorkOrder:
    created = await store.create_work_order(WorkOrder(repository_url=url, repo_full_name="octo/kept", issue_number=1))
    if status is not Status.PENDING:
        created = await store.update_work_order(created.id, {"status": status})
    return created


async def test_old_deliveries_are_pruned_and_recent_ones_kept(store: SqliteStore, tmp_path: Path) -> None:
    old = Delivery(delivery_id="old", event="ping", payload={}, received_at=utcnow() - timedelta(days=31))
    recent = Delivery(delivery_id="recent", event="ping", payload={}, received_at=utcnow() - timedelta(days=29))
    for delivery in (old, recent):
        await store.record_delivery(delivery)
    swept = await Retention(store, tmp_path / "data", delivery_days=30).sweep()
    assert swept.deliveries == 1
    assert [d.delivery_id for d in await store.list_deliveries()] == ["recent"]


async def test_worktrees_of_finished_or_unknown_work_orders_go_and_active_ones_stay(
    store: SqliteStore, tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    running, pending = await work_order(store, Status.RUNNING), await work_order(store, Status.PENDING)
    finished = await work_order(store, Status.COMPLETED)
    kept = [worktree(data, running.id), worktree(data, pending.id), worktree(data, "not-a-work-order")]
    gone = [worktree(data, finished.id), worktree(data, "wo-0badc0de")]
    swept = await Retention(store, data).sweep()
    assert sorted(swept.worktrees) == sorted(p.name for p in gone)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in gone)
    assert (kept[0] / "file.txt").read_text() == "work in progress\n"


async def test_mirrors_of_unconfigured_repositories_go_unless_in_use(store: SqliteStore, tmp_path: Path) -> None:
    data = tmp_path / "data"
    await store.add_repository(Repository(repository_url=CONFIGURED))
    configured = fake_mirror(data, f"{CONFIGURED}.git")
    unconfigured = fake_mirror(data, GONE)
    # an unconfigured repository still worked on (`awo run`, or a repository removed mid-run)
    local = await work_order(store, Status.RUNNING, url="/srv/checkouts/project")
    in_use = fake_mirror(data, "/srv/checkouts/project")
    # a worktree made from a mirror keeps it, whatever the store says
    with_tree = fake_mirror(data, "https://github.com/octo/tree.git")
    (with_tree / "worktrees" / local.id).mkdir(parents=True)
    worktree(data, local.id)
    swept = await Retention(store, data).sweep()
    assert swept.mirrors == (unconfigured.name,)
    assert not unconfigured.exists()
    assert configured.exists() and in_use.exists() and with_tree.exists()


async def test_a_mirror_git_is_writing_to_is_left_for_the_next_sweep(store: SqliteStore, tmp_path: Path) -> None:
    data = tmp_path / "data"
    mirror = fake_mirror(data, GONE)
    with mirror.with_suffix(".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what Checkout holds while it clones or fetches
        assert (await Retention(store, data).sweep()).mirrors == ()
        assert mirror.exists()
    assert (await Retention(store, data).sweep()).mirrors == (mirror.name,)


@pytest.mark.parametrize("slots", [0, 1])
async def test_a_real_mirror_of_a_removed_repository_is_swept(store: SqliteStore, tmp_path: Path, slots: int) -> None:
    """A mirror cloned by the bot, its repository then removed: the next sweep takes it (and its idle pool
    slots), the bot still works."""
    data, remote = tmp_path / "data", make_remote(tmp_path / "remotes")
    checkout = Checkout(data, {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
                        policy=make_settings(tmp_path, git_protocols=("https", "file")).remote_policy, pool_slots=slots)
    tree = await checkout.prepare(str(remote), "claude/issue-1", "wo-0000abcd", "main", None)
    await checkout.remove(tree)
    mirror = data / "mirrors" / mirror_name(str(remote))
    assert (mirror / "HEAD").exists()
    assert (await Retention(store, data).sweep()).mirrors == (mirror.name,)
    assert not mirror.exists() and not tree.path.exists()
    again = await checkout.prepare(str(remote), "claude/issue-1", "wo-0000abcd", "main", None)
    assert (again.path / "README.md").exists()
    await checkout.remove(again)


async def test_a_mirror_whose_pool_slot_is_taken_is_kept(store: SqliteStore, tmp_path: Path) -> None:
    data, remote = tmp_path / "data", make_remote(tmp_path / "remotes")
    checkout = Checkout(data, {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
                        policy=make_settings(tmp_path, git_protocols=("https", "file")).remote_policy, pool_slots=1)
    tree = await checkout.prepare(str(remote), "claude/issue-1", "wo-0000abcd", "main", None)
    assert (await Retention(store, data).sweep()).mirrors == ()  # its work order is not in the store: only the lock
    assert (tree.path / "README.md").exists()
    await checkout.remove(tree)
    assert (await Retention(store, data).sweep()).mirrors == (mirror_name(str(remote)),)


def test_the_server_sweeps_at_start_and_health_reports_the_data_folder(tmp_path: Path, github: FakeGitHub) -> None:
    settings = make_settings(tmp_path, sweep_seconds=3600)
    stale = worktree(settings.data_dir, "wo-0badc0de")
    (settings.data_dir / "blob").write_bytes(b"x" * 50_000)
    with TestClient(create_app(build_runtime(settings, github=github)), headers=AUTH) as client:
        deadline = time.monotonic() + 10
        while stale.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        body = client.get("/health").json()
    assert not stale.exists()
    assert body["data_dir"]["path"] == str(settings.data_dir)
    assert 50_000 <= body["data_dir"]["bytes"] < 10_000_000
