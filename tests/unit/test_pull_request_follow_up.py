"""@claude in a pull request's conversation: its own claude/... branch is continued, anything else is answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.github import PullRequest
from bot.models import Status, WorkOrder
from bot.runtime import build_runtime
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.payloads import example
from tests.unit.test_intake import API, AUTH, configure, deliver, intake_settings, outcome

REPO = "Codertocat/Hello-World"


@pytest.fixture
def app(tmp_path: Path, github: FakeGitHub, agent: FakeAgent) -> Iterator[TestClient]:
    runtime = build_runtime(intake_settings(tmp_path), github=github, agent=agent)
    with TestClient(create_app(runtime)) as client:
        configure(client)
        yield client


def pr_comment(number: int, body: str = "@claude also cover the empty case") -> dict:
    return example("issue_comment", "created", comment__body=body, issue__number=number,
                   issue__pull_request={"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"})


def with_pull(github: FakeGitHub, head: str, head_repo: str = REPO, state: str = "open") -> int:
    number = len(github.pulls) + 1
    pull = PullRequest(number, f"https://github.test/{REPO}/pull/{number}", head, False, head_repo, state)
    github.pulls.append((REPO, pull, {"base": "main", "title": "t", "body": "b"}))
    return number


def orders(client: TestClient) -> list[dict]:
    return client.get(f"{API}/", headers=AUTH).json()  # type: ignore[no-any-return]


def test_a_comment_on_the_bots_own_pull_request_continues_its_branch(app: TestClient, github: FakeGitHub) -> None:
    number = with_pull(github, "claude/issue-7-abcd1234")
    assert deliver(app, pr_comment(number), "d-pr", event="issue_comment") == 202
    assert outcome(app, "d-pr").startswith("queued")
    [order] = orders(app)
    assert (order["git_branch_name"], order["issue_number"]) == ("claude/issue-7-abcd1234", number)
    assert order["metadata"]["pull_request"] == number


@pytest.mark.parametrize(("head", "head_repo", "state", "said"), [
    ("claude/issue-7-abcd1234", "someone/Hello-World", "open", "comes from the fork someone/Hello-World"),
    ("claude/issue-7-abcd1234", "", "open", "a repository that no longer exists"),
    ("feature/login", REPO, "open", "only pushes to its own `claude/...` branches"),
    ("claude/issue-7-abcd1234", REPO, "closed", "is closed"),
])
def test_a_pull_request_the_bot_cannot_push_to_is_answered_and_nothing_runs(
    app: TestClient, github: FakeGitHub, head: str, head_repo: str, state: str, said: str,
) -> None:
    number = with_pull(github, head, head_repo, state)
    assert deliver(app, pr_comment(number), "d-pr", event="issue_comment") == 202
    assert said in outcome(app, "d-pr")
    assert orders(app) == []
    [(repo, issue, body)] = github.comments.values()
    assert (repo, issue) == (REPO, number) and said in body  # the reason, in the PR's thread


@pytest.mark.parametrize(("setting", "continued"), [(True, True), (False, False)])
def test_a_new_request_on_an_issue_continues_its_open_pr_unless_turned_off(
    tmp_path: Path, github: FakeGitHub, agent: FakeAgent, setting: bool, continued: bool,
) -> None:
    runtime = build_runtime(intake_settings(tmp_path, continue_pull_requests=setting), github=github, agent=agent)
    with TestClient(create_app(runtime)) as client:
        configure(client)
        number = with_pull(github, "claude/issue-7-abcd1234")
        done = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7,
                         status=Status.COMPLETED, git_branch_name="claude/issue-7-abcd1234", pr_number=number)
        client.portal.call(runtime.store.create_work_order, done)  # type: ignore[union-attr]
        comment = example("issue_comment", "created", comment__body="@claude one more thing", issue__number=7)
        assert deliver(client, comment, "d-again", event="issue_comment") == 202
        assert outcome(client, "d-again").startswith("queued")
        [new] = [o for o in orders(client) if o["agent_work_order_id"] != done.id]
        assert (new["git_branch_name"] == "claude/issue-7-abcd1234") is continued


def test_a_request_queued_behind_a_running_work_order_takes_its_branch(
    tmp_path: Path, github: FakeGitHub, agent: FakeAgent,
) -> None:
    """The PR of the work order ahead is not known yet; its branch is: this one runs after it, on top of it."""
    runtime = build_runtime(intake_settings(tmp_path), github=github, agent=agent)
    with TestClient(create_app(runtime)) as client:
        configure(client)
        ahead = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7,
                          status=Status.RUNNING)
        client.portal.call(runtime.store.create_work_order, ahead)  # type: ignore[union-attr]
        comment = example("issue_comment", "created", comment__body="@claude and the tests", issue__number=7)
        assert deliver(client, comment, "d-behind", event="issue_comment") == 202
        assert outcome(client, "d-behind").startswith("queued")
        [new] = [o for o in orders(client) if o["agent_work_order_id"] != ahead.id]
        assert new["git_branch_name"] == f"claude/issue-7-{ahead.short_id}"
