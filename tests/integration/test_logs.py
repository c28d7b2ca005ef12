"""Logs find failures: every line about a work order names it, its repository and issue; failures stand out."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.logs import handler
from bot.models import Status
from bot.runtime import Runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.gitrepo import make_remote
from tests.integration.test_work_orders import REPO, claim_and_run, configured, order
from tests.payloads import example
from tests.unit.test_webhooks import post


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The JSON handler `awo` installs, on the root logger for the test's length."""
    stream = io.StringIO()
    out = handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(out)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(out)
        root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
async def engine(settings: Settings, github: FakeGitHub, agent: FakeAgent, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = await configured(settings, make_remote(tmp_path / "remotes"), github, agent)
    yield runtime
    await runtime.store.close()


async def test_every_line_of_a_work_order_names_it_its_repository_and_issue(
    engine: Runtime, github: FakeGitHub, json_lines: io.StringIO, tmp_path: Path,
) -> None:
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(tmp_path, "w", progress_comment_id=comment_id))
    assert done.status is Status.COMPLETED
    about = [line for line in parsed(json_lines) if done.id in str(line["message"])]
    assert len(about) >= 2, about  # claimed, completed
    for line in about:
        assert (line["work_order_id"], line["repo"], line["issue"]) == (done.id, REPO, 7), line


async def test_a_failed_work_order_is_logged_as_a_warning_with_its_reason(
    engine: Runtime, github: FakeGitHub, agent: FakeAgent, json_lines: io.StringIO, tmp_path: Path,
) -> None:
    agent.error = "the model refused: out of credits"
    comment_id = await github.create_comment(REPO, 7, "queued")
    done = await claim_and_run(engine, order(tmp_path, "w", progress_comment_id=comment_id))
    assert done.status is Status.FAILED
    ends = [line for line in parsed(json_lines) if str(line["message"]).startswith(f"work order {done.id}: failed")]
    assert len(ends) == 1 and ends[0]["level"] == "WARNING", ends
    assert "out of credits" in str(ends[0]["message"]) and ends[0]["work_order_id"] == done.id


def test_lines_outside_a_work_order_carry_no_stale_context(json_lines: io.StringIO) -> None:
    logging.getLogger("bot.intake").info("delivery %s: ignored", "d-1", extra={"delivery_id": "d-1"})
    [line] = parsed(json_lines)
    assert line["delivery_id"] == "d-1" and "work_order_id" not in line and line["level"] == "INFO"


def test_text_lines_keep_the_context_at_their_end() -> None:
    stream = io.StringIO()
    record = logging.makeLogRecord({"name": "bot.worker", "levelno": logging.WARNING, "levelname": "WARNING",
                                    "msg": "work order %s: failed", "args": ("wo-1",),
                                    "work_order_id": "wo-1", "repo": "o/r", "issue": 3})
    out = handler("text", stream)
    out.handle(record)
    line = stream.getvalue().strip()
    assert "WARNING bot.worker: work order wo-1: failed [work_order_id=wo-1 repo=o/r issue=3]" in line


def test_a_routed_delivery_is_logged_with_its_id_and_repository(
    client: TestClient, json_lines: io.StringIO,
) -> None:
    response = post(client, example("issues", "labeled", label__name="claude"), delivery="labelled-1")
    assert response.status_code == 202
    def about() -> list[dict[str, object]]:
        return [line for line in parsed(json_lines) if line.get("delivery_id") == "labelled-1"]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not about():
        time.sleep(0.02)
    [line] = about()
    assert line["repo"] == "Codertocat/Hello-World" and line["level"] == "INFO", line
