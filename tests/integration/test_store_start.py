"""A store that cannot be opened at start-up: the process stays up, /health says why, and work starts by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.payloads import example
from tests.unit.test_webhooks import post


def wait_for(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_sqlite_that_cannot_open_at_start_is_reported_then_used_once_it_can(
    tmp_path: Path, github: FakeGitHub,
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")  # the store's folder cannot be made
    settings = make_settings(tmp_path, storage_type="sqlite", sqlite_path=blocker / "wo.db")
    with TestClient(create_app(build_runtime(settings, github=github)), headers=AUTH) as client:
        down = client.get("/health")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unhealthy"
        assert body["database"]["status"] == "unhealthy" and body["database"]["tables_exist"] is False
        assert str(blocker) in body["database"]["hint"], body["database"]
        payload = example("issues", "labeled", label__name="claude")
        assert post(client, payload, delivery="while-down").status_code == 503  # GitHub will redeliver

        blocker.unlink()
        wait_for(lambda: client.get("/health").status_code == 200)
        assert client.get("/health").json()["database"] == {"status": "healthy", "tables_exist": True}
        added = client.post("/api/agent-work-orders/repositories",
                            json={"repository_url": "https://github.com/Codertocat/Hello-World", "verify": False})
        assert added.status_code == 201, added.text
        assert post(client, payload, delivery="redelivered").status_code == 202
        orders = wait_for(lambda: client.get("/api/agent-work-orders/").json())
        assert [(o["issue_number"], o["status"]) for o in orders] == [(1, "pending")]
        assert (Path(settings.sqlite_path)).is_file()
