"""GitHub App auth through the real githubkit client against the fake GitHub, which checks the JWT's RS256
signature and claims and issues installation tokens that expire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.errors import ConfigError, GitHubError
from bot.github import GitHubClient, note_installation
from bot.runtime import build_runtime
from bot.settings import load_settings
from tests.conftest import make_settings
from tests.e2e.harness import wait_until
from tests.payloads import example
from tests.support.fake_github import FakeGitHub, FakeGitHubClient
from tests.support.fake_github_app import new_key_pair
from tests.support.fake_github_model import stable_id
from tests.unit.test_admission import app
from tests.unit.test_intake import API, deliver

REPO, OTHER = "Codertocat/Hello-World", "Codertocat/other"
APP_ID, SLUG, INSTALLATION = 4242, "awo-app", 77
PRIVATE, PUBLIC = new_key_pair()


def seed(token_seconds: float = 3600) -> dict[str, object]:
    return {
        "tokens": ["ghp_not_the_apps"],  # only what the App was issued is accepted
        "repos": {name: {"default_branch": "main", "clone_url": "file:///nowhere.git"} for name in (REPO, OTHER)},
        "app": {"id": APP_ID, "slug": SLUG, "public_key": PUBLIC, "token_seconds": token_seconds,
                "installations": {REPO: INSTALLATION, OTHER: INSTALLATION}},
    }


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(seed()) as server:
        yield server


@pytest.fixture
def fake(github: FakeGitHub) -> Iterator[FakeGitHubClient]:
    with github.client() as client:
        yield client


def client_for(github: FakeGitHub, key: str = PRIVATE) -> GitHubClient:
    return GitHubClient("", github.url, app=(str(APP_ID), key))


def issued(fake: FakeGitHubClient) -> list[dict[str, object]]:
    return [c for c in fake.calls("POST", r"/access_tokens$") if c["status"] == 201]


def authorization(fake: FakeGitHubClient, method: str, path: str) -> list[str]:
    return [str(c["authorization"]) for c in fake.calls(method, path)]


async def test_a_comment_is_made_with_an_installation_token_narrowed_to_its_repository(
    github: FakeGitHub, fake: FakeGitHubClient
) -> None:
    client = client_for(github)
    await client.create_comment(REPO, 7, "hello")
    assert [c["body"] for c in fake.comments(REPO, 7)] == ["hello"]
    [grant] = issued(fake)
    assert grant["path"] == f"/app/installations/{INSTALLATION}/access_tokens"
    assert grant["json"] == {"repositories": ["Hello-World"], "permissions": {
        "contents": "write", "issues": "write", "pull_requests": "write", "metadata": "read"}}
    assert authorization(fake, "POST", r"/issues/7/comments$") == [f"token {await client.git_token(REPO)}"]
    assert fake.violations() == []


async def test_each_repository_gets_its_own_token_and_a_known_installation_is_not_looked_up(
    github: FakeGitHub, fake: FakeGitHubClient
) -> None:
    client = client_for(github)
    note_installation(client, REPO, INSTALLATION)  # from the payload
    hello, other = await client.git_token(REPO), await client.git_token(OTHER)
    assert hello and other and hello != other
    assert await client.git_token(REPO) == hello  # cached
    assert [c["path"] for c in fake.calls("GET", r"/installation$")] == [f"/repos/{OTHER}/installation"]
    await client.create_comment(OTHER, 1, "x")
    assert authorization(fake, "POST", rf"/repos/{OTHER}/issues/1/comments$") == [f"token {other}"]


async def test_an_expiring_token_is_replaced_before_it_runs_out(fake: FakeGitHubClient, github: FakeGitHub) -> None:
    fake.seed({"app": {"id": APP_ID, "slug": SLUG, "public_key": PUBLIC, "token_seconds": 2,
                       "installations": {REPO: INSTALLATION}}})
    client = client_for(github)
    for _ in range(3):
        await client.get_issue(REPO, 7)
        await asyncio.sleep(1.2)
    assert len(issued(fake)) >= 2
    assert [c for c in fake.calls() if c["status"] == 401] == []


async def test_a_refused_token_is_replaced_once_and_the_call_repeated(
    github: FakeGitHub, fake: FakeGitHubClient
) -> None:
    client = client_for(github)
    first = await client.git_token(REPO)
    fake.fault("GET", rf"/repos/{REPO}/issues/7$", status=401, body={"message": "Bad credentials"})
    issue = await client.get_issue(REPO, 7)
    assert issue.number == 7
    assert len(issued(fake)) == 2
    second = await client.git_token(REPO)
    assert second != first
    assert authorization(fake, "GET", rf"/repos/{REPO}/issues/7$") == [f"token {first}", f"token {second}"]


async def test_a_jwt_signed_with_another_key_is_refused(github: FakeGitHub, fake: FakeGitHubClient) -> None:
    stranger, _ = new_key_pair()
    with pytest.raises(GitHubError) as caught:
        await client_for(github, stranger).create_comment(REPO, 7, "hello")
    assert caught.value.status == 401
    assert fake.comments(REPO) == []


async def test_the_bot_knows_its_login_and_commits_as_the_apps_bot_user(github: FakeGitHub) -> None:
    client = client_for(github)
    assert await client.viewer_login() == "awo-app[bot]"
    await client.git_token(REPO)  # the bot user is read with an installation token
    user_id = stable_id("awo-app[bot]")
    assert await client.app_identity() == ("awo-app[bot]", f"{user_id}+awo-app[bot]@users.noreply.github.com")


def outcome(client: TestClient, delivery: str) -> str:
    """The delivery's outcome once intake has processed it."""
    shown = wait_until(lambda: (found := client.get(f"{API}/deliveries/{delivery}").json()).get("processed_at")
                       and found, timeout=10)
    return str(shown["outcome"])


@pytest.mark.parametrize(("assignee", "queued"), [("awo-app[bot]", True), ("awo-bot", False)])
def test_assigning_the_apps_bot_asks_for_work(
    tmp_path: Path, github: FakeGitHub, fake: FakeGitHubClient, assignee: str, queued: bool
) -> None:
    fake.seed({"permissions": {REPO: {"Codertocat": "write"}}})
    settings = make_settings(tmp_path, github_token=None, github_app_id=str(APP_ID), github_app_private_key=PRIVATE,
                             github_api_url=github.url)
    payload = example("issues", "assigned", assignee__login=assignee, issue__number=9)
    for client in app(build_runtime(settings)):
        assert deliver(client, payload, "d-as", event="issues") == 202
        said = outcome(client, "d-as")
        assert said.startswith("queued") is queued, said
    assert fake.violations() == []


@pytest.mark.parametrize("key", ["not a key", PRIVATE.replace("MII", "XXX", 1), PUBLIC])
def test_a_malformed_private_key_is_one_config_error(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(github_app_id="1", github_app_private_key=key, agent_env={})
    message = str(caught.value)
    assert message.startswith("GITHUB_APP_PRIVATE_KEY: ") and "\n" not in message
    assert "MII" not in message  # the key is never echoed


def test_the_key_may_be_a_file_or_text_with_escaped_newlines(tmp_path: Path) -> None:
    path = tmp_path / "app.pem"
    path.write_text(PRIVATE)
    from_file = load_settings(github_app_id="1", github_app_private_key_file=path, agent_env={})
    assert from_file.app_private_key == PRIVATE
    escaped = load_settings(github_app_id="1", github_app_private_key=PRIVATE.replace("\n", "\\n"), agent_env={})
    assert escaped.app_private_key == PRIVATE
    path.write_text("garbage")
    with pytest.raises(ConfigError, match="^GITHUB_APP_PRIVATE_KEY_FILE: "):
        load_settings(github_app_id="1", github_app_private_key_file=path, agent_env={})



async def test_a_graphql_query_uses_the_token_of_the_repository_just_read(
    github: FakeGitHub, fake: FakeGitHubClient
) -> None:
    fake.seed({"comments": {REPO: [{"issue_number": 7, "body": "hi", "user": "alice"}]}})
    client = client_for(github)
    await client.git_token(OTHER)
    remarks = await client.list_issue_comments(REPO, 7)
    states = await client.node_states([r.node_id for r in remarks])
    assert set(states) == {r.node_id for r in remarks}
    assert authorization(fake, "POST", r"^/graphql$") == [f"token {await client.git_token(REPO)}"]
