"""`awo cancel ID` and `awo retry ID` on the configured store (a SQLite file here), as an operator runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import Status, WorkOrder
from bot.store.sqlite import SqliteStore


def on_store(path: Path, work: object) -> object:
    async def run() -> object:
        store = SqliteStore(path)
        await store.open()
        try:
            return await work(store)  # type: ignore[operator]
        finally:
            await store.close()
    return asyncio.run(run())


def test_cancel_then_retry_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "wo.db"
    for name, value in (("STATE_STORAGE_TYPE", "sqlite"), ("SQLITE_PATH", str(path)), ("AWO_DATA_DIR", str(tmp_path))):
        monkeypatch.setenv(name, value)
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    work_order = WorkOrder(repository_url="https://github.com/octo/repo", repo_full_name="octo/repo")
    on_store(path, lambda s: s.create_work_order(work_order))
    assert main(["cancel", work_order.id]) == 0
    assert capsys.readouterr().out == f"cancelled {work_order.id}\n"
    assert main(["cancel", work_order.id]) == 1
    assert "is cancelled: only a pending or running one can be cancelled" in capsys.readouterr().out
    assert main(["retry", work_order.id]) == 0
    assert capsys.readouterr().out == f"queued {work_order.id} again\n"
    back = on_store(path, lambda s: s.get_work_order(work_order.id))
    assert isinstance(back, WorkOrder) and back.status is Status.PENDING
    assert main(["retry", "wo-nothere"]) == 1
    assert "not found" in capsys.readouterr().out
