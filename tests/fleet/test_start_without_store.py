"""`awo serve` and `awo worker` started before their Postgres is up, or before it is migrated: they stay up,
/health answers 503 in the seed's shape saying why, and work starts by itself once the store is ready."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.migrate import apply_migrations
from tests.e2e.harness import wait_until
from tests.fleet.harness import REPO, Fleet, PrivateCluster, configure_repository, wait_for_all
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.postgres




def assert_unready(fleet: Fleet, url: str, *, reachable: bool) -> dict[str, object]:
    health = fleet.receivers[0].health()
    assert health.status_code == 503, health.text
    body = health.json()
    assert body["status"] == "unhealthy" and body["service"] == "agent-work-orders"
    database = body["database"]
    assert (database["status"], database["tables_exist"]) == ("healthy" if reachable else "unhealthy", False)
    assert database["hint"], database
    for proc in fleet.procs:
        assert proc.popen.poll() is None, f"{proc.name} exited:\n{proc.log()[-3000:]}"
        assert "Traceback" not in proc.log(), proc.log()[-3000:]
    return database


def run_one_issue(fleet: Fleet, url: str, issue: int) -> None:
    configure_repository(url, fleet.remote)
    assert fleet.receivers[0].deliver("issues", fleet.issue_payload(issue), f"start-{issue}").status_code == 202
    [row] = wait_for_all(fleet, 1, timeout=60)
    assert (row["issue_number"], row["status"]) == (issue, "completed"), fleet.logs()
    bodies = fleet.final_comments([issue])[issue]
    assert len(bodies) == 1 and "✅ Done" in bodies[0], bodies
    assert [p["head"] for p in fleet.gh.pulls(REPO)] == [row["git_branch_name"]]


def test_started_while_postgres_is_down_they_wait_and_then_work(tmp_path: Path, cluster: PrivateCluster) -> None:
    cluster.stop()
    fleet = Fleet(tmp_path, cluster.url)
    try:
        fleet.start_receiver("server", workers=0)
        worker = fleet.start_worker("worker")
        wait_until(lambda: "store is not ready" in worker.log(), timeout=30)
        time.sleep(2)  # several retries' worth
        database = assert_unready(fleet, cluster.url, reachable=False)
        assert "Postgres" in str(database["hint"])

        cluster.start()
        back = time.monotonic()
        wait_until(lambda: fleet.receivers[0].health().status_code == 200, timeout=15, every=0.2)
        worker.worker_id(timeout=15)
        print(f"\n/health 200 and the worker claiming {time.monotonic() - back:.1f} s after Postgres came up")
        run_one_issue(fleet, cluster.url, 5)
    finally:
        fleet.stop()


def test_started_on_an_unmigrated_database_they_wait_for_awo_migrate(tmp_path: Path) -> None:
    with fresh_database() as url:
        fleet = Fleet(tmp_path, url)
        try:
            fleet.start_receiver("server", workers=1)
            time.sleep(1)
            database = assert_unready(fleet, url, reachable=True)
            assert "migrat" in str(database["hint"]), database

            asyncio.run(apply_migrations(url))
            wait_until(lambda: fleet.receivers[0].health().status_code == 200, timeout=15, every=0.2)
            run_one_issue(fleet, url, 6)
        finally:
            fleet.stop()
