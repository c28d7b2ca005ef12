"""The fake GitHub's pull-request conversations, driven through githubkit and plain HTTP like the bot does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import httpx
import pytest
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import RequestFailed
from githubkit.rest.paginator import Paginator

from .fake_github import FakeGitHub, FakeGitHubClient

TOKEN = "ghs_t"
OWNER, REPO, FULL = "octo", "hello", "octo/hello"
AUTH = {"Authorization": f"token {TOKEN}"}
NODES = ("query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Minimizable { isMinimized minimizedReason } "
         "... on Comment { createdAt lastEditedAt userContentEdits(first: 100) { nodes { editedAt diff } } } } }")
SEED: dict[str, Any] = {
    "repos": {FULL: {}, "forker/hello": {}},
    "permissions": {FULL: {"alice": "admin", "wes": "write"}},
    "pulls": {FULL: [
        {"number": 3, "head": "octo:fix", "base": "main", "title": "Fix", "body": "Closes #1", "user": "alice",
         "files": [{"filename": "a.py", "additions": 2, "deletions": 1, "patch": "@@ -1 +1,2 @@"}]},
        {"number": 4, "head": "forker:feature", "head_repo": "forker/hello", "base": "main", "title": "Fork",
         "user": "stranger", "maintainer_can_modify": True},
        {"number": 5, "head": "gone:feature", "head_repo": None, "base": "main", "title": "Deleted fork"},
    ]},
    "review_comments": {FULL: [
        {"pull_number": 3, "id": 900, "user": "wes", "body": "@claude rename", "path": "a.py", "line": 2,
         "diff_hunk": "@@ -1 +1,2 @@\n x\n+y"},
        {"pull_number": 3, "id": 901, "user": "alice", "body": "agreed", "in_reply_to_id": 900},
    ]},
}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(SEED) as server:
        yield server


@pytest.fixture
def client(fake: FakeGitHub) -> Iterator[FakeGitHubClient]:
    with fake.client() as control:
        yield control


@pytest.fixture
async def gh(fake: FakeGitHub) -> AsyncIterator[GitHub[Any]]:
    async with GitHub(TokenAuthStrategy(TOKEN), base_url=fake.url, auto_retry=False) as github:
        yield github


async def test_pull_files_and_forks(gh: GitHub[Any]) -> None:
    files = cast(list[Any], (await gh.rest.pulls.async_list_files(OWNER, REPO, 3)).parsed_data)
    assert [(f.filename, f.status, f.changes, f.patch) for f in files] == [("a.py", "modified", 3, "@@ -1 +1,2 @@")]
    pull = (await gh.rest.pulls.async_get(OWNER, REPO, 3)).parsed_data
    assert (pull.changed_files, pull.additions, pull.deletions, pull.review_comments) == (1, 2, 1, 2)
    fork = (await gh.rest.pulls.async_get(OWNER, REPO, 4)).parsed_data
    assert fork.head.repo is not None and fork.head.repo.full_name == "forker/hello"
    assert fork.maintainer_can_modify is True and fork.base.repo.full_name == FULL
    deleted = (await gh.rest.pulls.async_get(OWNER, REPO, 5)).parsed_data
    assert deleted.head.repo is None and deleted.head.label == "gone:feature"


async def test_a_pull_request_is_also_an_issue(gh: GitHub[Any]) -> None:
    issue = (await gh.rest.issues.async_get(OWNER, REPO, 3)).parsed_data
    assert issue.pull_request is not None and issue.title == "Fix" and issue.body == "Closes #1"


async def test_review_comment_reply_joins_the_thread(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    reply = (await gh.rest.pulls.async_create_reply_for_review_comment(OWNER, REPO, 3, 901, body="On it")).parsed_data
    assert reply.in_reply_to_id == 900 and (reply.path, reply.line) == ("a.py", 2)
    edited = (await gh.rest.pulls.async_update_review_comment(OWNER, REPO, reply.id, body="Done")).parsed_data
    assert edited.body == "Done" and edited.in_reply_to_id == 900
    listed = cast(list[Any], (await gh.rest.pulls.async_list_review_comments(OWNER, REPO, 3)).parsed_data)
    threads = [(c.id, c.in_reply_to_id if isinstance(c.in_reply_to_id, int) else "absent") for c in listed]
    assert threads == [(900, "absent"), (901, 900), (reply.id, 900)]
    assert [c["body"] for c in client.review_comments(FULL, 3)] == ["@claude rename", "agreed", "Done"]
    assert [c["method"] for c in client.calls(path=r"/pulls/.*comments")] == ["POST", "PATCH", "GET"]


@pytest.mark.parametrize(("pull", "comment"), [(4, 900), (3, 12345)])
async def test_reply_to_a_comment_not_on_that_pull_is_404(gh: GitHub[Any], pull: int, comment: int) -> None:
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.pulls.async_create_reply_for_review_comment(OWNER, REPO, pull, comment, body="x")
    assert exc.value.response.status_code == 404


async def test_review_comment_get_and_reaction(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    top = (await gh.rest.pulls.async_get_review_comment(OWNER, REPO, 900)).parsed_data
    assert top.body == "@claude rename" and top.diff_hunk.endswith("+y") and top.side == "RIGHT"
    first = await gh.rest.reactions.async_create_for_pull_request_review_comment(OWNER, REPO, 900, content="eyes")
    again = await gh.rest.reactions.async_create_for_pull_request_review_comment(OWNER, REPO, 900, content="eyes")
    assert (first.status_code, again.status_code) == (201, 200)
    assert [(r["subject"], r["subject_id"]) for r in client.reactions(FULL)] == [("review_comment", 900)]


async def test_reviews_are_listed(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    client.seed({"reviews": {FULL: [{"pull_number": 3, "user": "wes", "body": "@claude please", "state": "APPROVED"}]}})
    reviews = cast(list[Any], (await gh.rest.pulls.async_list_reviews(OWNER, REPO, 3)).parsed_data)
    assert [(r.user.login, r.body, r.state) for r in reviews] == [("wes", "@claude please", "APPROVED")]


async def test_250_review_comments_seed_fast_and_page_at_100(gh: GitHub[Any], client: FakeGitHubClient,
                                                             record_property: Any) -> None:
    many = [{"pull_number": 3, "user": "wes", "body": f"c{n}"} for n in range(250)]
    started = time.perf_counter()
    client.seed({"review_comments": {FULL: many}, "comments": {FULL: [
        {"issue_number": 3, "user": "wes", "body": f"i{n}"} for n in range(250)]}})
    seeded_s = time.perf_counter() - started
    record_property("seed_500_comments_s", round(seeded_s, 3))
    first = await gh.rest.pulls.async_list_review_comments(OWNER, REPO, 3, per_page=100)
    assert len(first.parsed_data) == 100 and 'rel="last"' in first.headers["link"]
    paginator: Paginator[Any] = gh.rest.paginate(gh.rest.pulls.async_list_review_comments, owner=OWNER,
                                                 repo=REPO, pull_number=3, per_page=100)
    bodies = [c.body async for c in paginator]
    assert len(bodies) == 252 and bodies[-1] == "c249" and seeded_s < 2


def graphql(fake: FakeGitHub, ids: list[str]) -> Any:
    reply = httpx.post(f"{fake.url}/graphql", json={"query": NODES, "variables": {"ids": ids}}, headers=AUTH)
    assert reply.status_code == 200
    return reply.json()["data"]["nodes"]


async def test_graphql_nodes_tell_minimized_and_edit_history(fake: FakeGitHub, client: FakeGitHubClient,
                                                             gh: GitHub[Any]) -> None:
    edits = [{"edited_at": "2025-01-01T00:00:00Z", "body": "first"},
             {"edited_at": "2025-01-03T00:00:00Z", "body": "third"},
             {"edited_at": "2025-01-02T00:00:00Z", "body": "second"}]
    state = client.seed({
        "comments": {FULL: [{"issue_number": 3, "user": "wes", "edits": edits},
                            {"issue_number": 3, "user": "wes", "body": "spam", "minimized": True}]},
        "reviews": {FULL: [{"pull_number": 3, "user": "wes", "body": "lgtm", "minimized": True}]}})
    edited, hidden = state["comments"]
    listed = cast(list[Any], (await gh.rest.issues.async_list_comments(OWNER, REPO, 3)).parsed_data)
    review = cast(list[Any], (await gh.rest.pulls.async_list_reviews(OWNER, REPO, 3)).parsed_data)[0]
    top = (await gh.rest.pulls.async_get_review_comment(OWNER, REPO, 900)).parsed_data
    assert [c.body for c in listed] == ["third", "spam"] and edited["body"] == "third"
    nodes = graphql(fake, [listed[0].node_id, listed[1].node_id, review.node_id, top.node_id, "nope"])
    assert [n and n["isMinimized"] for n in nodes] == [False, True, True, False, None]
    assert [e["diff"] for e in nodes[0]["userContentEdits"]["nodes"]] == ["third", "second", "first"]
    assert nodes[0]["lastEditedAt"] == "2025-01-03T00:00:00Z" and nodes[3]["userContentEdits"]["nodes"] == []
    assert hidden["minimized"] is True and client.violations() == []


async def test_an_edit_through_the_api_enters_the_history(fake: FakeGitHub, gh: GitHub[Any]) -> None:
    await gh.rest.pulls.async_update_review_comment(OWNER, REPO, 900, body="@claude rename it")
    nodes = graphql(fake, [(await gh.rest.pulls.async_get_review_comment(OWNER, REPO, 900)).parsed_data.node_id])
    assert [e["diff"] for e in nodes[0]["userContentEdits"]["nodes"]] == ["@claude rename it", "@claude rename"]


@pytest.mark.parametrize("seed", [
    {"review_comments": {FULL: [{"pull_number": 3, "body": "x", "colour": "red"}]}},
    {"review_comments": {FULL: [{"pull_number": 3, "body": "x", "in_reply_to_id": 4242}]}},
    {"reviews": {FULL: [{"pull_number": 3, "body": "x", "state": "LGTM"}]}},
    {"comments": {FULL: [{"issue_number": 3, "edits": [{"when": "today", "body": "x"}]}]}},
    {"pulls": {FULL: [{"head": "octo:x", "base": "main", "title": "t", "files": [{"filename": "a", "status": "?"}]}]}},
])
def test_a_seed_that_does_not_fit_is_refused(client: FakeGitHubClient, seed: dict[str, Any]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as exc:
        client.seed(seed)
    assert exc.value.response.status_code == 400 and "bad seed" in exc.value.response.json()["message"]
