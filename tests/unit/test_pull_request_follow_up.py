"""@claude in a pull request's conversation: a branch of the repository is continued, anything else is answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.admission import NotAllowed, recheck_pull_request
from bot.context_run import read_context, read_pull_request, start_reading
from bot.github import PullRequest, Remark
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
    ("master", REPO, "open", "the default branch, which the bot never pushes to"),
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


def review_comment(number: int, comment_id: int, body: str = "@claude rename this") -> dict:
    return example("pull_request_review_comment", "created", comment__id=comment_id, comment__body=body,
                   comment__in_reply_to_id=None, comment__path="app.py", comment__line=3, comment__side="RIGHT",
                   comment__diff_hunk="@@ -1 +1,3 @@\n+x = 1", pull_request__number=number,
                   pull_request__state="open", pull_request__head__ref="feature/rename",
                   pull_request__head__repo__full_name=REPO)


def test_a_review_comment_is_answered_by_a_reply_in_its_thread(app: TestClient, github: FakeGitHub) -> None:
    number = with_pull(github, "feature/rename")
    top = Remark("review_comment", 555, "PRRC_555", "Codertocat", "OWNER", "@claude rename this",
                 datetime.now(UTC), datetime.now(UTC), path="app.py", line=3, side="RIGHT", diff_hunk="@@")
    github.remarks[(REPO, number)] = [top]
    assert deliver(app, review_comment(number, 555), "d-rc", event="pull_request_review_comment") == 202
    assert outcome(app, "d-rc").startswith("queued")
    [order] = orders(app)
    assert order["git_branch_name"] == "feature/rename"
    assert order["metadata"]["reply_to"] == {"kind": "review_comment", "thread": 555}
    assert order["metadata"]["review_location"]["path"] == "app.py"
    [reply] = [r for r in github.remarks[(REPO, number)] if r.id != 555]
    assert reply.in_reply_to_id == 555 and order["agent_work_order_id"] in reply.body  # queued, in the thread
    assert reply.id == order["progress_comment_id"] and github.comments == {}  # nothing in the conversation
    assert github.reactions == [(REPO, number, 555, "eyes")]


@pytest.mark.parametrize(("assignee", "queued"), [("awo-bot", True), ("someone-else", False)])
def test_assigning_the_bot_asks_for_work_and_assigning_anyone_else_does_not(
    app: TestClient, github: FakeGitHub, assignee: str, queued: bool,
) -> None:
    payload = example("issues", "assigned", assignee__login=assignee, issue__number=9,
                      issue__body="Please make it faster")
    assert deliver(app, payload, "d-as", event="issues") == 202
    said = outcome(app, "d-as")
    assert said.startswith("queued") is queued, said
    if not queued:
        assert said == "ignored: assigned to someone-else, not to the bot" and orders(app) == []


@pytest.mark.parametrize(("head", "state", "said"), [
    ("feature/rename", "open", None),
    ("feature/rename", "closed", "is closed"),
    ("feature/other", "open", "is now on `feature/other`"),
])
async def test_a_pull_request_is_asked_again_when_its_work_order_is_claimed(
    github: FakeGitHub, head: str, state: str, said: str | None,
) -> None:
    """Closed or re-pointed while its work order waited: nothing is pushed to it."""
    number = with_pull(github, head, state=state)
    waiting = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=number,
                        git_branch_name="feature/rename", metadata={"pull_request": number, "default_branch": "main"})
    if said is None:
        await recheck_pull_request(github, waiting)
        return
    with pytest.raises(NotAllowed, match=said):
        await recheck_pull_request(github, waiting)


async def test_the_claims_check_and_the_context_share_one_read_of_the_pull_request(github: FakeGitHub) -> None:
    """The PR read at the claim is checked and then shown: GitHub is asked for it once, not twice."""
    number = with_pull(github, "feature/rename")
    reads: list[int] = []
    ask = github.get_pull_request

    async def counted(full_name: str, pr: int) -> PullRequest:
        reads.append(pr)
        return await ask(full_name, pr)

    github.get_pull_request = counted  # type: ignore[method-assign]
    waiting = WorkOrder(repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=number,
                        git_branch_name="feature/rename", metadata={"pull_request": number, "default_branch": "main"})
    pull = read_pull_request(github, waiting)
    context = start_reading(github, waiting, 10_000, pull)
    await recheck_pull_request(github, waiting, pull)
    assert context is not None and "feature/rename" in await read_context(context)
    assert reads == [number]
