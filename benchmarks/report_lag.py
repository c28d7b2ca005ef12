"""How long a work order's comment stays behind the status the API shows, over 50 work orders.

Real git (bare remote, mirror, worktrees) and the real SQLite store; fake agent and fake GitHub that notes
when each final comment landed. Lag = when the final comment landed − when the row ended (completed_at),
floored at 0: the API never runs ahead of the comment, so it should be 0 ms. A second run refuses a fifth
of the edits: those rows end `report_pending` (the API says so) and the outbox delivers them.
Run: `python -m benchmarks.report_lag`.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import summary
from bot.errors import GitHubError
from bot.models import Repository
from bot.report import render_comment
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from bot.worker import Worker, WorkerConfig
from tests.gitrepo import make_remote
from tests.integration.test_report_lifecycle import REPO, order

COUNT = 50


class TimedGitHub(FakeGitHub):
    refuse_every: int = 0
    edits: int = 0
    landed: dict[int, datetime]

    async def update_comment(self, full_name: str, comment_id: int, body: str) -> None:
        self.edits += 1
        final = "✅ Done" in body or "❌ Failed" in body
        if final and self.refuse_every and self.edits % self.refuse_every == 0:
            raise GitHubError("update comment: GitHub answered 502", 502)
        await super().update_comment(full_name, comment_id, body)
        if final:
            self.landed[comment_id] = datetime.now(UTC)


async def measure(refuse_every: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(storage_type="sqlite", data_dir=root / "data", sqlite_path=root / "data/wo.db",
                            webhook_secrets=("x",), worker_concurrency=0, github_token="ghp_" + "x" * 36,
                            git_protocols=("https", "file"), agent_sandbox="none")  # type: ignore[call-arg]
        github = TimedGitHub(permissions={"Codertocat": "write"})
        github.landed, github.refuse_every = {}, refuse_every
        runtime = build_runtime(settings, github=github, agent=FakeAgent(files={"a.txt": "a\n"}), workers=0)
        await runtime.store.open()
        await runtime.store.add_repository(Repository(
            repository_url=f"https://github.com/{REPO}", default_branch="main", clone_url=str(make_remote(root))))
        ids = []
        for n in range(COUNT):
            work_order = await runtime.store.create_work_order(order(issue_number=100 + n))
            comment = await github.create_comment(REPO, 100 + n, render_comment(work_order, []))
            await runtime.store.update_work_order(work_order.id, {"progress_comment_id": comment})
            ids.append(work_order.id)
        worker = Worker(runtime.services, WorkerConfig(concurrency=2, poll_seconds=0.05, report_every=1.0))
        stop = asyncio.Event()
        loop = asyncio.create_task(worker.run(stop))
        while True:
            rows = [await runtime.store.get_work_order(i) for i in ids]
            if all(not r.status.is_active and not r.report_pending for r in rows):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await loop
        await runtime.store.close()
        lags = [max(0.0, (github.landed[r.progress_comment_id] - r.completed_at).total_seconds())
                for r in rows if r.progress_comment_id is not None and r.completed_at is not None]
        return lags, sum(1 for r in rows if r.status.value == "completed")


def main() -> None:
    lags, done = asyncio.run(measure(refuse_every=0))
    print(f"{done}/{COUNT} completed; " + summary("comment behind API status", lags))
    lags, done = asyncio.run(measure(refuse_every=5))
    print(f"{done}/{COUNT} completed, every 5th final edit refused (API shows report_pending meanwhile); "
          + summary("comment behind API status", lags))


if __name__ == "__main__":
    main()
