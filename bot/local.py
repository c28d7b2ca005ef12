"""`awo run`: one work order on a local repository, no GitHub: a branch and a commit, steps printed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.models import Status, WorkOrder, utcnow
from bot.progress import ProgressDisplay
from bot.runtime import build_services
from bot.settings import Settings
from bot.store.factory import build_store
from bot.worker import Worker, WorkerConfig, new_worker_id


def local_work_order(
    repo: str, prompt: str, commands: list[str] | None, worker_id: str, base: str | None
) -> WorkOrder:
    """Already leased to this process: `awo run` never waits in the queue."""
    path = Path(repo).expanduser()
    url = str(path.resolve()) if path.exists() else repo
    return WorkOrder(
        repository_url=url, user_request=prompt, repo_full_name=path.resolve().name if path.exists() else url,
        status=Status.RUNNING, lease_owner=worker_id, lease_expires_at=utcnow() + timedelta(days=1), attempt=1,
        started_at=utcnow(), max_attempts=1,
        metadata={"publish": False, "console": True, "commands": commands,
                  "default_branch": base, "source": "awo run"},
    )


async def run_local(settings: Settings, repo: str, prompt: str, commands: list[str] | None, base: str | None) -> int:
    store = build_store(settings)
    await store.open()
    try:
        worker_id = new_worker_id()
        local = Path(repo).expanduser().exists()
        protocols = (*settings.git_protocols, "file") if local else settings.git_protocols
        services = build_services(settings.model_copy(update={"git_protocols": protocols}), store, github=None)
        services.local_remote = str(Path(repo).expanduser().resolve()) if local else repo
        services.log_observer = ProgressDisplay().show
        worker = Worker(services, WorkerConfig(concurrency=1, lease_seconds=86400), worker_id=worker_id)
        work_order = await store.create_work_order(local_work_order(repo, prompt, commands, worker_id, base))
        print(f"work order {work_order.id} on {work_order.repository_url}", flush=True)
        finished = await worker.work(work_order)
    finally:
        await store.close()
    return 0 if finished.status is Status.COMPLETED else 1
