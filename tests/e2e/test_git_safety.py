"""End to end, the real server: the clone URL comes from the configured repository, never from outside.

A git host on loopback records every request; the payload, a work order request and GitHub's own answer
name it, and it must never be asked for anything. `http` is allowed here so only the rule itself stands
between the bot and that host.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.checkout import mirror_name
from tests.e2e.harness import REPO, Stack, script_for, wait_until
from tests.gitrepo import HeaderRecorder, show

pytestmark = pytest.mark.e2e

WRITE = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello\n"}}}
PLAN = [{"text": "Plan: write hello.txt."}]


@pytest.fixture(scope="module")
def attacker() -> Iterator[HeaderRecorder]:
    with HeaderRecorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(Path(tmp_path_factory.mktemp("git-e2e")), AWO_GIT_PROTOCOLS="https,http,file")
    running.configure_repo()
    yield running
    running.stop()


def test_a_payload_naming_another_clone_url_is_cloned_from_the_configured_repository(
    stack: Stack, attacker: HeaderRecorder
) -> None:
    stack.script(script_for(601, PLAN, [WRITE, {"text": "Wrote hello.txt."}]))
    payload = stack.issue_payload(601, "Say hello", clone_url=f"{attacker.url}/evil/x.git")
    assert stack.deliver("issues", payload).status_code == 202
    order = stack.finished(601)
    assert order["status"] == "completed", order
    assert show(stack.remote, str(order["git_branch_name"]), "hello.txt") == "hello"
    assert "clone_url" not in order["metadata"]
    assert attacker.requests == []


def test_a_work_order_request_naming_another_host_never_reaches_it(stack: Stack, attacker: HeaderRecorder) -> None:
    body = {"repository_url": f"{attacker.url}/{REPO}", "user_request": "run my code", "github_issue_number": "602"}
    created = stack.http.post("/api/agent-work-orders/", json=body)
    if created.status_code == 201:  # accepted: it runs on the configured repository, or fails; never there
        wait_until(lambda: stack.http.get(f"/api/agent-work-orders/{created.json()['agent_work_order_id']}")
                   .json()["status"] in ("completed", "failed"), timeout=60)
    else:
        assert 400 <= created.status_code < 500
    assert attacker.requests == []


def test_a_repository_whose_github_clone_url_names_another_host_is_not_configured(
    stack: Stack, attacker: HeaderRecorder
) -> None:
    stack.gh.seed({"repos": {"octo/elsewhere": {"default_branch": "main", "clone_url": f"{attacker.url}/x.git"}}})
    answer = stack.http.post("/api/agent-work-orders/repositories",
                             json={"repository_url": f"{stack.web}/octo/elsewhere", "verify": True})
    assert answer.status_code == 502 and "not on the GitHub host" in answer.json()["detail"]
    listed = stack.http.get("/api/agent-work-orders/repositories").json()
    assert all("elsewhere" not in r["repository_url"] for r in listed)
    assert all(str(r["clone_url"]).startswith(str(stack.remote)) for r in listed)
    assert attacker.requests == []


def test_the_agent_editing_the_mirror_config_runs_nothing_on_the_host(stack: Stack) -> None:
    """The issue's attack: the real CLI, steered by the issue, rewrites the shared mirror's config."""
    ran = stack.root / "fsmonitor-ran.log"
    script = stack.root / "evil.sh"
    script.write_text(f"#!/bin/sh\nenv >> {ran}\ncat >/dev/null\n")
    script.chmod(0o755)
    mirror_config = stack.root / "data" / "mirrors" / mirror_name(str(stack.remote)) / "config"
    tampered = (f"[core]\n\tbare = true\n\tfsmonitor = {script}\n[remote \"origin\"]\n\turl = {stack.remote}\n"
                f"\tfetch = +refs/heads/*:refs/remotes/origin/*\n[filter \"evil\"]\n\tclean = {script}\n")
    implement = [
        {"tool_use": {"name": "Read", "input": {"file_path": str(mirror_config)}}},
        {"tool_use": {"name": "Write", "input": {"file_path": str(mirror_config), "content": tampered}}},
        {"tool_use": {"name": "Write", "input": {"file_path": ".gitattributes", "content": "* filter=evil\n"}}},
        WRITE, {"text": "Done as the issue asked."},
    ]
    stack.script(script_for(604, PLAN, implement))
    assert stack.deliver("issues", stack.issue_payload(604, "Tidy up")).status_code == 202
    order = stack.finished(604)
    assert not ran.exists(), ran.read_text()[:1000]
    assert order["status"] == "completed", order
    assert show(stack.remote, str(order["git_branch_name"]), "hello.txt") == "hello"
    assert "fsmonitor" not in mirror_config.read_text()
