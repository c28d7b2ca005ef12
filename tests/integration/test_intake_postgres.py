"""Intake on real Postgres: a value Postgres cannot store (an issue number past int4) never stops intake."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.payloads import example
from tests.unit.test_intake import configure, deliver, good_issue, intake_settings, outcome

from .conftest import empty_tables

pytestmark = pytest.mark.postgres


def test_an_issue_number_past_int4_is_ignored_and_the_next_delivery_is_queued(
    tmp_path: Path, postgres_url: str, github: FakeGitHub
) -> None:
    empty_tables(postgres_url)
    settings = intake_settings(tmp_path, storage_type="postgres", database_url=postgres_url)
    runtime = build_runtime(settings, github=github)
    with TestClient(create_app(runtime)) as client:
        configure(client)
        huge = example("issues", "opened", issue__body="@claude x", issue__number=2**31)
        assert deliver(client, huge, "huge") == 202
        assert deliver(client, good_issue(), "good") == 202
        assert outcome(client, "huge").startswith("ignored: malformed payload: issue.number")
        assert outcome(client, "good").startswith("queued wo-")
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT issue_number FROM archon_agent_work_orders").fetchall()
        pending = conn.execute("SELECT count(*) FROM archon_agent_work_order_deliveries "
                               "WHERE processed_at IS NULL").fetchone()
    assert rows == [(7,)] and pending == (0,)
