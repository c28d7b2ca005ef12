"""compose.yaml as users run it: Postgres, `awo migrate` first, a receiver and two workers, one work order to a PR."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, TOKEN, script_for, wait_until
from tests.image import engine
from tests.image.compose import ComposeStack, implementations
from tests.image.harness import host_git

pytestmark = pytest.mark.e2e

PLAN = [{"text": "Plan: create hello.txt."}]
WRITE_HELLO = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from compose\n"}}}


@pytest.fixture(scope="module", params=sorted(implementations()))
def composed(request: pytest.FixtureRequest, image: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    engine.ensure_postgres_image()
    command = implementations()[request.param]
    stack = ComposeStack(Path(tmp_path_factory.mktemp("compose")), image, command, workers=2)
    yield stack
    stack.stop()


def test_migrate_runs_once_and_the_others_wait_for_it(composed: ComposeStack) -> None:
    services = composed.services()
    migrate = [s for s in services if s.startswith("migrate ")]
    assert len(migrate) == 1 and migrate[0].startswith("migrate Exited (0)"), services
    assert len([s for s in services if re.fullmatch(r"worker Up [^()]*", s)]) == 2, services  # no healthcheck
    assert len([s for s in services if re.match(r"serve Up", s)]) == 1, services
    assert re.search(r"postgres Up .*\(healthy\)", "\n".join(services)), services
    logs = composed.compose("logs", "--no-color", "migrate").stdout
    assert "applied 011_stop_cancel_and_retry.sql" in logs  # the migrations shipped in the image
    health = composed.health()
    assert health["storage_type"] == "postgres" and health["database"] == {"status": "healthy", "tables_exist": True}
    assert health["worker"] == {"enabled": False, "concurrency": 0}  # `serve --workers 0`: the workers work
    sandbox = health["agent_sandbox"]
    assert (sandbox["kind"], sandbox["available"]) == (("bwrap", True) if composed.sandboxed else ("none", True))
    wait_until(lambda: any(re.match(r"serve Up .*\(healthy\)", s) for s in composed.services()), timeout=40)


def test_a_labelled_issue_goes_through_a_worker_to_a_pr(composed: ComposeStack) -> None:
    composed.configure_repo()
    issue = composed.new_issue()
    composed.script(script_for(issue, PLAN, [WRITE_HELLO, {"text": "Added hello.txt."}]))
    answer = composed.deliver("issues", composed.issue_payload(issue, "Say hello"))
    assert answer.status_code == 202, answer.text

    order = composed.finished(issue, timeout=120)
    assert order["status"] == "completed", (order, composed.log()[-3000:])
    branch = order["git_branch_name"]
    assert host_git(composed, "show", f"{branch}:hello.txt") == "hello from compose"
    [pull] = [p for p in composed.gh.pulls(REPO) if p["head"] == branch]
    assert order["pr_url"] == pull["html_url"]
    body = wait_until(lambda: "✅ Done" in composed.comment_on(issue) and composed.comment_on(issue))
    assert pull["html_url"] in body
    claim = f"work order {order['agent_work_order_id']}: claimed"
    claimed = [line for line in composed.log().splitlines() if claim in line]
    # each line starts with its service's name (1.29: worker_1, v2: worker-1, after a terminal escape)
    assert claimed and all(re.search(r"^(\x1b\[\w+)?worker[-_]\d+ +\|", line) for line in claimed), claimed
    assert TOKEN not in str(composed.model.requests())
