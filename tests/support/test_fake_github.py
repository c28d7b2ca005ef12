"""The fake GitHub, driven through githubkit: every parsed_data must validate against its models."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from githubkit import GitHub, TokenAuthStrategy, UnauthAuthStrategy
from githubkit.exception import RequestFailed
from githubkit.rest.paginator import Paginator
from githubkit.utils import UNSET

from bot.github import GitHubClient

from .fake_github import FakeGitHub, FakeGitHubClient
from .fake_github_model import FIRST_PULL
from .openapi import description

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests/fixtures/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
TOKEN = "ghs_installation_token_1"
OWNER, REPO, FULL = "octo", "hello", "octo/hello"
SEED: dict[str, Any] = {
    "repos": {FULL: {"default_branch": "trunk", "clone_url": "file:///tmp/hello.git"}},
    "permissions": {FULL: {"alice": "admin", "mia": "maintain", "wes": "write", "tia": "triage",
                           "rob": "read"}},
    "issues": {FULL: [{"number": 7, "title": "Fix the typo", "body": "teh -> the", "user": "alice",
                       "labels": ["agent"]}]},
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


def status_of(exc: pytest.ExceptionInfo[RequestFailed]) -> tuple[int, Any]:
    return exc.value.response.status_code, exc.value.response.json()


async def test_get_repo(gh: GitHub[Any]) -> None:
    repo = (await gh.rest.repos.async_get(OWNER, REPO)).parsed_data
    assert (repo.full_name, repo.default_branch, repo.clone_url) == (FULL, "trunk", "file:///tmp/hello.git")
    assert repo.owner.login == OWNER and repo.open_issues_count == 1


async def test_repo_lookup_is_case_insensitive_and_unknown_is_404(gh: GitHub[Any]) -> None:
    assert (await gh.rest.repos.async_get("Octo", "Hello")).parsed_data.name == REPO
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.repos.async_get(OWNER, "nope")
    status, body = status_of(exc)
    assert status == 404 and body["message"] == "Not Found" and body["documentation_url"].startswith("https://")


@pytest.mark.parametrize(("login", "permission", "role", "can_push"), [
    ("alice", "admin", "admin", True), ("mia", "write", "maintain", True), ("wes", "write", "write", True),
    ("tia", "read", "triage", False), ("rob", "read", "read", False), ("stranger", "none", "none", False),
    ("dependabot[bot]", "none", "none", False),
])
async def test_collaborator_permission(gh: GitHub[Any], login: str, permission: str, role: str,
                                       can_push: bool) -> None:
    resp = await gh.rest.repos.async_get_collaborator_permission_level(OWNER, REPO, login)
    data = resp.parsed_data
    assert (data.permission, data.role_name) == (permission, role)
    assert data.user is not None and data.user.login == login
    assert data.user.permissions and data.user.permissions.push is can_push


async def test_collaborator_permission_unknown_repo_is_404(gh: GitHub[Any]) -> None:
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.repos.async_get_collaborator_permission_level(OWNER, "nope", "alice")
    assert status_of(exc)[0] == 404


async def test_comment_lifecycle(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    created = await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="On it :eyes:")
    comment = created.parsed_data
    assert created.status_code == 201 and comment.user is not None and comment.user.login == "awo-bot[bot]"
    assert comment.user.type == "Bot"
    assert comment.html_url == f"https://github.com/{FULL}/issues/7#issuecomment-{comment.id}"
    updated = await gh.rest.issues.async_update_comment(OWNER, REPO, comment.id, body="Done: #8")
    assert updated.parsed_data.body == "Done: #8" and updated.parsed_data.id == comment.id
    fetched = (await gh.rest.issues.async_get_comment(OWNER, REPO, comment.id)).parsed_data
    # cast: mypy resolves githubkit's `list[...]` annotations to the client's own `list` method
    listed = cast(list[Any], (await gh.rest.issues.async_list_comments(OWNER, REPO, 7)).parsed_data)
    assert fetched.body == "Done: #8" and [c.id for c in listed] == [comment.id]
    assert [c["body"] for c in client.comments(FULL, 7)] == ["Done: #8"]


async def test_unknown_comment_is_404(gh: GitHub[Any]) -> None:
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.issues.async_update_comment(OWNER, REPO, 123, body="x")
    assert status_of(exc)[0] == 404


async def test_comment_pagination_follows_link_header(gh: GitHub[Any]) -> None:
    for n in range(5):
        await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body=f"c{n}")
    first = await gh.rest.issues.async_list_comments(OWNER, REPO, 7, per_page=2)
    assert len(first.parsed_data) == 2 and 'rel="next"' in first.headers["link"]
    paginator: Paginator[Any] = gh.rest.paginate(gh.rest.issues.async_list_comments, owner=OWNER, repo=REPO,
                                 issue_number=7, per_page=2)
    assert [c.body async for c in paginator] == [f"c{n}" for n in range(5)]


async def test_reactions_are_201_then_200(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    first = await gh.rest.reactions.async_create_for_issue(OWNER, REPO, 7, content="eyes")
    again = await gh.rest.reactions.async_create_for_issue(OWNER, REPO, 7, content="eyes")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.parsed_data.id == again.parsed_data.id and first.parsed_data.content == "eyes"
    comment = (await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="hi")).parsed_data
    on_comment = await gh.rest.reactions.async_create_for_issue_comment(OWNER, REPO, comment.id, content="+1")
    assert on_comment.status_code == 201
    assert {(r["subject"], r["subject_id"], r["content"]) for r in client.reactions(FULL)} == {
        ("issue", 7, "eyes"), ("comment", comment.id, "+1")}


async def test_create_pull(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    resp = await gh.rest.pulls.async_create(OWNER, REPO, title="Fix typo", head="octo:awo/issue-7",
                                            base="trunk", body="Closes #7", draft=True)
    pull = resp.parsed_data
    assert resp.status_code == 201 and pull.number == FIRST_PULL  # never an issue's number (see add_pull)
    assert pull.html_url == f"https://github.com/{FULL}/pull/{FIRST_PULL}"
    assert (pull.head.ref, pull.base.ref, pull.draft, pull.state) == ("awo/issue-7", "trunk", True, "open")
    assert pull.user.login == "awo-bot[bot]" and pull.body == "Closes #7"
    [stored] = client.pulls(FULL)
    assert (stored["head_label"], stored["title"], stored["html_url"]) == ("octo:awo/issue-7", "Fix typo",
                                                                          pull.html_url)


async def test_duplicate_pull_is_422(gh: GitHub[Any]) -> None:
    await gh.rest.pulls.async_create(OWNER, REPO, title="a", head="awo/issue-7", base="trunk")
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.pulls.async_create(OWNER, REPO, title="b", head="octo:awo/issue-7", base="trunk")
    status, body = status_of(exc)
    assert status == 422 and body["message"] == "Validation Failed"
    assert body["errors"][0]["message"] == "A pull request already exists for octo:awo/issue-7."


async def test_list_pulls_filters_by_head_state_and_base(gh: GitHub[Any]) -> None:
    for branch in ("awo/issue-7", "awo/issue-9"):
        await gh.rest.pulls.async_create(OWNER, REPO, title=branch, head=branch, base="trunk")

    async def heads(**query: Any) -> list[str]:
        pulls = cast(list[Any], (await gh.rest.pulls.async_list(OWNER, REPO, **query)).parsed_data)
        return [p.head.ref for p in pulls]

    assert await heads(head="octo:awo/issue-9") == ["awo/issue-9"]
    assert await heads(head="someone-else:awo/issue-9") == []
    assert await heads(head="awo/issue-9") == ["awo/issue-9", "awo/issue-7"]  # no "owner:" = no filter
    assert await heads(base="main") == []
    await gh.rest.pulls.async_update(OWNER, REPO, FIRST_PULL + 1, state="closed")
    assert await heads() == ["awo/issue-7"]
    assert await heads(state="closed") == ["awo/issue-9"]
    assert await heads(state="all", direction="asc") == ["awo/issue-7", "awo/issue-9"]


async def test_update_pull(gh: GitHub[Any]) -> None:
    await gh.rest.pulls.async_create(OWNER, REPO, title="old", head="awo/issue-7", base="trunk")
    closed = await gh.rest.pulls.async_update(OWNER, REPO, FIRST_PULL, title="new", body="b", state="closed")
    pull = closed.parsed_data
    assert (pull.title, pull.body, pull.state) == ("new", "b", "closed") and pull.closed_at is not None
    await gh.rest.pulls.async_create(OWNER, REPO, title="again", head="awo/issue-7", base="trunk")
    with pytest.raises(RequestFailed) as exc:  # reopening would duplicate the open one
        await gh.rest.pulls.async_update(OWNER, REPO, FIRST_PULL, state="open")
    assert status_of(exc)[0] == 422


async def test_get_issue(gh: GitHub[Any]) -> None:
    issue = (await gh.rest.issues.async_get(OWNER, REPO, 7)).parsed_data
    assert (issue.title, issue.body, issue.state) == ("Fix the typo", "teh -> the", "open")
    assert issue.pull_request is UNSET  # absent optional fields are UNSET, not None
    assert issue.user is not None and issue.user.login == "alice"
    assert issue.author_association == "COLLABORATOR"
    assert [label.name for label in issue.labels if not isinstance(label, str)] == ["agent"]
    await gh.rest.pulls.async_create(OWNER, REPO, title="pr", head="awo/issue-7", base="trunk")
    as_issue = (await gh.rest.issues.async_get(OWNER, REPO, FIRST_PULL)).parsed_data
    assert as_issue.pull_request and as_issue.html_url.endswith(f"/pull/{FIRST_PULL}")


async def test_get_authenticated_user(gh: GitHub[Any]) -> None:
    me = (await gh.rest.users.async_get_authenticated()).parsed_data
    assert (me.login, me.type) == ("awo-bot[bot]", "Bot")


async def test_bot_login_is_configurable(fake: FakeGitHub, gh: GitHub[Any], client: FakeGitHubClient) -> None:
    client.seed({"bot_login": "other-bot[bot]"})
    assert (await gh.rest.users.async_get_authenticated()).parsed_data.login == "other-bot[bot]"


async def test_missing_auth_is_401_and_recorded(fake: FakeGitHub, client: FakeGitHubClient) -> None:
    async with GitHub(UnauthAuthStrategy(), base_url=fake.url, auto_retry=False) as anonymous:
        with pytest.raises(RequestFailed) as exc:
            await anonymous.rest.repos.async_get(OWNER, REPO)
    status, body = status_of(exc)
    assert status == 401 and body["message"] == "Requires authentication"
    [call] = client.calls()
    assert (call["status"], call["authorization"], call["token"]) == (401, None, None)


def test_wrong_scheme_or_unlisted_token_is_401(fake: FakeGitHub, client: FakeGitHubClient) -> None:
    client.seed({"tokens": [TOKEN]})
    statuses = [httpx.get(f"{fake.url}/user", headers={"Authorization": auth}).status_code
                for auth in ("Basic abc", "token wrong", f"token {TOKEN}", f"Bearer {TOKEN}")]
    assert statuses == [401, 401, 200, 200]


async def test_calls_are_recorded(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="hello")
    await gh.rest.pulls.async_list(OWNER, REPO, head="octo:awo/issue-7", state="all")
    post, get = client.calls()
    assert post["method"] == "POST" and post["path"] == f"/repos/{FULL}/issues/7/comments"
    assert post["json"] == {"body": "hello"} and post["status"] == 201 and post["query"] == {}
    assert (post["authorization"], post["token"]) == (f"token {TOKEN}", TOKEN)
    assert get["query"] == {"head": "octo:awo/issue-7", "state": "all"} and get["json"] is None
    assert post["seq"] < get["seq"] and post["time"] <= get["time"] and not post["faulted"]
    assert client.calls("GET", r"/pulls$") == [get]
    client.clear_calls()
    assert client.calls() == []


def test_unknown_endpoint_and_bad_json(fake: FakeGitHub, client: FakeGitHubClient) -> None:
    auth = {"Authorization": f"token {TOKEN}"}
    missing = httpx.get(f"{fake.url}/repos/{FULL}/branches", headers=auth)
    garbled = httpx.post(f"{fake.url}/repos/{FULL}/issues/7/comments", content=b"{nope", headers=auth)
    no_body = httpx.post(f"{fake.url}/repos/{FULL}/issues/7/comments", json={}, headers=auth)
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    assert (garbled.status_code, garbled.json()["message"]) == (400, "Problems parsing JSON")
    assert no_body.status_code == 422 and '"body" wasn\'t supplied' in no_body.json()["message"]
    assert [c["status"] for c in client.calls()] == [404, 400, 422]


async def test_fault_injection(gh: GitHub[Any], client: FakeGitHubClient) -> None:
    client.fault("POST", r"/issues/\d+/comments$", status=502, times=1)
    with pytest.raises(RequestFailed) as exc:
        await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="first")
    assert status_of(exc) == (502, {"message": "Bad Gateway", "documentation_url": "https://docs.github.com/rest",
                                    "status": "502"})
    await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="second")
    assert [(c["status"], c["faulted"]) for c in client.calls()] == [(502, True), (201, False)]
    assert [c["body"] for c in client.comments(FULL)] == ["second"] and client.state()["faults"] == []


async def test_githubkit_retries_5xx_by_default(fake: FakeGitHub, client: FakeGitHubClient) -> None:
    client.fault("GET", f"^/repos/{FULL}$", status=503, times=1)
    async with GitHub(TokenAuthStrategy(TOKEN), base_url=fake.url) as retrying:  # sleeps 1 s, then retries
        assert (await retrying.rest.repos.async_get(OWNER, REPO)).status_code == 200
    assert [c["status"] for c in client.calls()] == [503, 200]


def test_seed_and_reset(client: FakeGitHubClient) -> None:
    pull = {"head": "feature", "title": "t", "base": "main"}
    state = client.seed({"repos": {"octo/other": {}}, "pulls": {"octo/other": [pull]}})
    assert set(state["repos"]) == {FULL, "octo/other"} and state["pulls"][0]["head_label"] == "octo:feature"
    bad: dict[str, Any]
    for bad in ({"repo": {}}, {"permissions": {"ghost/repo": {"a": "admin"}}},
                {"permissions": {FULL: {"a": "owner"}}}, {"repos": {FULL: {"colour": "red"}}}):
        with pytest.raises(httpx.HTTPStatusError):
            client.seed(bad)
    client.reset()
    assert client.state()["repos"] == {} and client.calls() == []


def test_standalone_process(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED))
    command = [sys.executable, "-m", "tests.support.fake_github", "--port", "0", "--state", str(seed_file)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip().removeprefix("FAKE_GITHUB_URL=")
            with FakeGitHubClient(url) as control:
                assert FULL in control.state()["repos"]
        finally:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close() if process.stdout else None


@pytest.mark.skipif(not EXAMPLES.exists(), reason="npm fixtures not installed")
async def test_shapes_cover_real_payload_keys(gh: GitHub[Any]) -> None:
    """Every key of the real objects in @octokit/webhooks-examples is present in the fake's."""
    events = {event["name"]: event["examples"] for event in json.loads(EXAMPLES.read_text())}
    comment = await gh.rest.issues.async_create_comment(OWNER, REPO, 7, body="x")
    pull = await gh.rest.pulls.async_create(OWNER, REPO, title="t", head="awo/issue-7", base="trunk")
    ours = {
        ("issues", "repository"): (await gh.rest.repos.async_get(OWNER, REPO)).json(),
        ("issues", "issue"): (await gh.rest.issues.async_get(OWNER, REPO, 7)).json(),
        ("issues", "sender"): (await gh.rest.users.async_get_authenticated()).json(),
        ("issue_comment", "comment"): comment.json(),
        ("pull_request", "pull_request"): pull.json(),
    }
    for (event, key), fake_object in ours.items():
        real = next(ex[key] for ex in events[event] if ex.get("action") in ("opened", "created"))
        assert set(real) - set(fake_object) == set(), (event, key)


# ---------------------------------------------------------------- fidelity to GitHub's OpenAPI description

PR_SEED: dict[str, Any] = {
    "pulls": {FULL: [{"number": 3, "head": "octo:fix", "base": "trunk", "title": "Fix", "body": "b",
                      "user": "alice", "files": [{"filename": "a.py", "additions": 1, "patch": "@@ -1 +1 @@"},
                                                 {"filename": "b.py", "status": "renamed",
                                                  "previous_filename": "old.py"}]}]},
    "reviews": {FULL: [{"pull_number": 3, "user": "wes", "body": "@claude look", "state": "COMMENTED"}]},
    "review_comments": {FULL: [{"pull_number": 3, "id": 900, "user": "wes", "body": "rename", "path": "a.py"}]},
}
TYPICAL: list[tuple[str, str, str, Any]] = [  # method, concrete path, template, body
    ("GET", "/user", "/user", None),
    ("GET", f"/repos/{FULL}", "/repos/{owner}/{repo}", None),
    ("GET", f"/repos/{FULL}/collaborators/wes/permission",
     "/repos/{owner}/{repo}/collaborators/{username}/permission", None),
    ("GET", f"/repos/{FULL}/issues/7", "/repos/{owner}/{repo}/issues/{issue_number}", None),
    ("GET", f"/repos/{FULL}/issues/3", "/repos/{owner}/{repo}/issues/{issue_number}", None),
    ("POST", f"/repos/{FULL}/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments",
     {"body": "hi"}),
    ("GET", f"/repos/{FULL}/issues/7/comments", "/repos/{owner}/{repo}/issues/{issue_number}/comments", None),
    ("GET", f"/repos/{FULL}/issues/comments/{{cid}}", "/repos/{owner}/{repo}/issues/comments/{comment_id}",
     None),
    ("PATCH", f"/repos/{FULL}/issues/comments/{{cid}}", "/repos/{owner}/{repo}/issues/comments/{comment_id}",
     {"body": "edited"}),
    ("POST", f"/repos/{FULL}/issues/7/reactions", "/repos/{owner}/{repo}/issues/{issue_number}/reactions",
     {"content": "eyes"}),
    ("POST", f"/repos/{FULL}/issues/comments/{{cid}}/reactions",
     "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {"content": "+1"}),
    ("POST", f"/repos/{FULL}/pulls", "/repos/{owner}/{repo}/pulls",
     {"title": "t", "head": "awo/7", "base": "trunk", "body": "Closes #7"}),
    ("GET", f"/repos/{FULL}/pulls", "/repos/{owner}/{repo}/pulls", None),
    ("GET", f"/repos/{FULL}/pulls/3", "/repos/{owner}/{repo}/pulls/{pull_number}", None),
    ("PATCH", f"/repos/{FULL}/pulls/3", "/repos/{owner}/{repo}/pulls/{pull_number}", {"body": "new"}),
    ("GET", f"/repos/{FULL}/pulls/3/files", "/repos/{owner}/{repo}/pulls/{pull_number}/files", None),
    ("GET", f"/repos/{FULL}/pulls/3/reviews", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", None),
    ("GET", f"/repos/{FULL}/pulls/3/comments", "/repos/{owner}/{repo}/pulls/{pull_number}/comments", None),
    ("GET", f"/repos/{FULL}/pulls/comments/900", "/repos/{owner}/{repo}/pulls/comments/{comment_id}", None),
    ("POST", f"/repos/{FULL}/pulls/3/comments/900/replies",
     "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies", {"body": "On it"}),
    ("PATCH", f"/repos/{FULL}/pulls/comments/900", "/repos/{owner}/{repo}/pulls/comments/{comment_id}",
     {"body": "renamed"}),
    ("POST", f"/repos/{FULL}/pulls/comments/900/reactions",
     "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions", {"content": "eyes"}),
]
AUTH = {"Authorization": f"token {TOKEN}"}


def test_every_route_answers_what_the_description_documents(fake: FakeGitHub, client: FakeGitHubClient) -> None:
    client.seed(PR_SEED)
    spec = description()
    cid = client.seed({"comments": {FULL: [{"issue_number": 7, "body": "x", "user": "wes"}]}})["comments"][0]["id"]
    for method, path, template, body in TYPICAL:
        reply = httpx.request(method, fake.url + path.format(cid=cid), json=body, headers=AUTH)
        assert reply.status_code < 300, (method, path, reply.text)
        assert spec.response_errors(method, template, reply.status_code, reply.json()) == [], (method, path)
    routed = {(m, p.format(cid=cid)) for m, p, _, _ in TYPICAL}
    assert len(routed) == len(TYPICAL) and client.violations() == []


@pytest.mark.parametrize(("method", "path", "body", "status", "problem"), [
    ("POST", f"/repos/{FULL}/issues/7/comments", {"body": 3}, 422, "For 'properties/body', 3 is not a string."),
    ("POST", f"/repos/{FULL}/issues/7/comments", {}, 422, '"body" wasn\'t supplied.'),
    ("POST", f"/repos/{FULL}/issues/7/reactions", {"content": "tada"}, 422, "'tada' is not one of"),
    ("GET", f"/repos/{FULL}/pulls?state=merged", None, 422, "'merged' is not one of ['open', 'closed', 'all']"),
    ("GET", f"/repos/{FULL}/issues/7/comments?per_page=all", None, 422, "'all' is not of type 'integer'"),
    ("GET", f"/repos/{FULL}/issues/7/comments?pagesize=9", None, 422, "unknown query parameter 'pagesize'"),
    ("GET", f"/repos/{FULL}/issues/seven", None, 422, "'seven' is not of type 'integer'"),
    ("GET", f"/repos/{FULL}/nonsense/7", None, 404, "is not in the api.github.com description"),
    ("POST", "/graphql", {"query": 3}, 422, "a GraphQL request is"),
])
def test_a_request_the_description_does_not_allow_is_refused_and_recorded(
        fake: FakeGitHub, client: FakeGitHubClient, method: str, path: str, body: Any, status: int,
        problem: str) -> None:
    reply = httpx.request(method, fake.url + path, json=body, headers=AUTH)
    [violation] = client.violations()
    assert reply.status_code == status and violation["method"] == method
    assert any(problem in p for p in violation["problems"]), violation["problems"]
    client.clear_violations()
    assert client.violations() == []


def test_validation_costs_little_per_request(fake: FakeGitHub, record_property: Any) -> None:
    spec = description()
    requests = [(m, p.format(cid=1), b) for m, p, _, b in TYPICAL] * 20
    started = time.perf_counter()
    for method, path, body in requests:
        template, params = spec.match(path) or ("", {})
        operation = spec.operation(method, template)
        query = [("per_page", "100"), ("page", "2")] if method == "GET" and path.endswith("comments") else []
        assert operation is not None and operation.check(params, query, body) == []
    per_request_ms = (time.perf_counter() - started) / len(requests) * 1000
    record_property("openapi_check_ms_per_request", round(per_request_ms, 3))
    assert per_request_ms < 5


def test_ghes_description_is_served_under_api_v3() -> None:
    with FakeGitHub(SEED, spec="ghes-3.19") as server, server.client() as control:
        repo = httpx.get(f"{server.url}/api/v3/repos/{FULL}", headers=AUTH)
        assert repo.status_code == 200 and repo.json()["url"] == f"{server.url}/api/v3/repos/{FULL}"
        assert httpx.get(f"{server.url}/api/v3/repos/{FULL}/pulls?state=x", headers=AUTH).status_code == 422
        assert [v["path"] for v in control.violations()] == [f"/api/v3/repos/{FULL}/pulls"]


async def test_a_file_path_with_slashes_is_a_valid_contents_request_answered_404(
    fake: FakeGitHub, client: FakeGitHubClient,
) -> None:
    """GitHub marks the Contents API's `path` `x-multi-segment`: `.github/x.yml` is one parameter, not a violation."""
    bot = GitHubClient(TOKEN, base_url=fake.url)
    assert await bot.get_file(FULL, ".github/agent-work-orders.yml") is None
    assert client.violations() == []
