"""Archon's API shape: its field names in work-order responses, /{id}/git-progress and /github/verify-repository
(which must be neither an SSRF nor a token oracle)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter
from starlette.testclient import TestClient

from bot.errors import GitHubError
from bot.github import RepoInfo
from bot.models import Status, WorkOrder
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH

API = "/api/agent-work-orders"
VERIFY = f"{API}/github/verify-repository"
HELLO = RepoInfo("Codertocat/Hello-World", "Codertocat", "Hello-World", "trunk",
                 "https://github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Hello-World")
GITHUB_TOKEN = "ghp_testtokenvalue0123456789abcdefABCDEF"  # tests/conftest.py's


class ArchonWorkOrder(BaseModel):
    """Archon's AgentWorkOrder (python/src/agent_work_orders/models.py), its types as Archon declares them."""

    model_config = ConfigDict(extra="allow", strict=True)

    agent_work_order_id: str
    repository_url: str
    sandbox_identifier: str
    git_branch_name: str | None = None
    agent_session_id: str | None = None
    sandbox_type: Literal["git_branch", "git_worktree", "e2b", "dagger"]
    github_issue_number: str | None = None
    status: Literal["pending", "running", "completed", "failed"]
    current_phase: Literal["planning", "completed"] | None = None
    created_at: datetime
    updated_at: datetime
    github_pull_request_url: str | None = None
    git_commit_count: int = 0
    git_files_changed: int = 0
    error_message: str | None = None


class ArchonGitProgress(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    agent_work_order_id: str
    current_phase: Literal["planning", "completed"]
    git_commit_count: int
    git_files_changed: int
    latest_commit_message: str | None = None
    git_branch_name: str | None = None


class ArchonVerification(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    is_accessible: bool
    repository_name: str | None = None
    repository_owner: str | None = None
    default_branch: str | None = None
    error_message: str | None = None


def add(client: TestClient, runtime: Runtime, **fields: Any) -> WorkOrder:
    order = WorkOrder(repository_url="https://github.com/Codertocat/Hello-World",
                      repo_full_name="Codertocat/Hello-World", **fields)
    return client.portal.call(runtime.store.create_work_order, order)  # type: ignore[union-attr]


def test_work_order_responses_have_archons_fields_with_archons_types(client: TestClient, runtime: Runtime) -> None:
    done = add(client, runtime, status=Status.COMPLETED, issue_number=7, pr_url="https://github.com/o/r/pull/9",
               git_branch_name="awo/7", metadata={"commits": ["a" * 40, "b" * 40], "files_changed": 3})
    add(client, runtime, status=Status.RUNNING, metadata={"sandbox_type": "git_branch", "files_changed": True})
    listed = client.get(f"{API}/")
    orders = TypeAdapter(list[ArchonWorkOrder]).validate_json(listed.text, strict=True)
    by_id = {o.agent_work_order_id: o for o in orders}
    shown = by_id[done.id]
    assert (shown.github_issue_number, shown.github_pull_request_url, shown.current_phase) == (
        "7", "https://github.com/o/r/pull/9", "completed")
    assert (shown.git_commit_count, shown.git_files_changed, shown.sandbox_type) == (2, 3, "git_worktree")
    running = next(o for o in orders if o.agent_work_order_id != done.id)
    assert (running.current_phase, running.sandbox_type, running.git_files_changed) == ("planning", "git_branch", 0)
    single = client.get(f"{API}/{done.id}")
    # the single read adds what the work order's log says (current_step, current_tool_use); Archon's fields agree
    archon = set(ArchonWorkOrder.model_fields)
    assert ArchonWorkOrder.model_validate_json(single.text, strict=True).model_dump(include=archon) == \
        shown.model_dump(include=archon)
    assert single.json()["issue_number"] == 7 and single.json()["pr_url"] == shown.github_pull_request_url  # ours too


def test_a_waiting_work_order_has_no_phase_and_no_issue(client: TestClient, runtime: Runtime) -> None:
    created = client.post(f"{API}/repositories", json={"repository_url": "Codertocat/Hello-World", "verify": False})
    assert created.status_code == 201
    made = client.post(f"{API}/", json={"repository_url": "Codertocat/Hello-World", "user_request": "Fix it",
                                        "sandbox_type": "git_branch"})
    assert made.status_code == 201, made.text
    shown = ArchonWorkOrder.model_validate_json(made.text, strict=True)
    assert (shown.current_phase, shown.github_issue_number, shown.sandbox_type) == (None, None, "git_branch")
    assert shown.git_commit_count == 0 and shown.github_pull_request_url is None


def test_git_progress_has_archons_snapshot_shape(client: TestClient, runtime: Runtime) -> None:
    waiting = add(client, runtime)
    pushed = add(client, runtime, status=Status.FAILED, git_branch_name="awo/1-x",
                 metadata={"commits": ["c" * 40], "files_changed": 2})
    first = ArchonGitProgress.model_validate_json(client.get(f"{API}/{waiting.id}/git-progress").text, strict=True)
    assert first == ArchonGitProgress(agent_work_order_id=waiting.id, current_phase="planning", git_commit_count=0,
                                      git_files_changed=0)
    second = ArchonGitProgress.model_validate_json(client.get(f"{API}/{pushed.id}/git-progress").text, strict=True)
    assert (second.git_commit_count, second.git_files_changed, second.git_branch_name) == (1, 2, "awo/1-x")
    missing = client.get(f"{API}/wo-nothere/git-progress")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]


class AskedGitHub(FakeGitHub):
    """Records which repositories it was asked about; one repository's read fails with the token in its text."""

    def __init__(self) -> None:
        super().__init__(repos={HELLO.full_name: HELLO})
        self.asked: list[str] = []

    async def get_repository(self, full_name: str) -> RepoInfo:
        self.asked.append(full_name)
        if full_name == "octo/broken":
            raise GitHubError(f"get octo/broken: GitHub answered 500 with Authorization: token {GITHUB_TOKEN}", 500)
        return await super().get_repository(full_name)


@pytest.fixture
def asked() -> AskedGitHub:
    return AskedGitHub()


@pytest.fixture
def verifier(settings: Settings, asked: AskedGitHub, agent: FakeAgent) -> Any:
    with TestClient(create_app(build_runtime(settings, github=asked, agent=agent)), headers=AUTH) as client:
        yield client


@pytest.mark.parametrize("named", ["Codertocat/Hello-World", "https://github.com/Codertocat/Hello-World",
                                   "https://github.com/Codertocat/Hello-World.git", " Codertocat/Hello-World/ "])
def test_verify_repository_answers_archons_shape(verifier: TestClient, asked: AskedGitHub, named: str) -> None:
    answer = verifier.post(VERIFY, json={"repository_url": named})
    assert answer.status_code == 200, answer.text
    assert ArchonVerification.model_validate_json(answer.text, strict=True) == ArchonVerification(
        is_accessible=True, repository_name="Hello-World", repository_owner="Codertocat", default_branch="trunk")
    assert asked.asked == ["Codertocat/Hello-World"]


def test_a_repository_the_bot_cannot_see_is_not_accessible(verifier: TestClient) -> None:
    answer = verifier.post(VERIFY, json={"repository_url": "octo/private"}).json()
    assert answer == {"is_accessible": False, "repository_name": None, "repository_owner": None,
                      "default_branch": None, "error_message": "Repository not accessible or not found"}


def test_github_error_text_never_carries_the_token(verifier: TestClient) -> None:
    answer = verifier.post(VERIFY, json={"repository_url": "octo/broken"})
    assert answer.status_code == 200 and answer.json()["is_accessible"] is False
    assert GITHUB_TOKEN not in answer.text and "500" in answer.json()["error_message"]


@pytest.mark.parametrize("named", [
    "http://169.254.169.254/latest/meta-data",  # cloud metadata: another host
    "https://127.0.0.1/octo/repo",  # loopback
    "https://github.com.evil.example/octo/repo",  # a look-alike host
    "https://github.com:8443/octo/repo",  # another port
    f"https://x-access-token:{GITHUB_TOKEN}@github.com/octo/repo",  # credentials in the URL
    "https://evil.example@github.com/octo/repo",
    "file:///etc/passwd", "ssh://git@github.com/octo/repo",
    "https://github.com/octo/repo?ref=x", "https://github.com/octo/repo#x", "https://github.com/octo/repo/issues",
    "octo/..", "../octo", "octo/repo/../../users/x", "-octo/repo", "octo--/repo", "octo/re po", "octo/repo%2F..",
    "a" * 40 + "/repo", "octo/" + "r" * 101, "octo", "/", "octo/\u0000",
])
def test_verify_repository_refuses_other_hosts_and_odd_shapes_before_asking_github(
    verifier: TestClient, asked: AskedGitHub, named: str
) -> None:
    answer = verifier.post(VERIFY, json={"repository_url": named})
    assert answer.status_code == 422, answer.text
    assert asked.asked == [] and GITHUB_TOKEN not in answer.text


def test_verify_repository_needs_the_api_token_and_a_json_body(verifier: TestClient, asked: AskedGitHub) -> None:
    without = verifier.post(VERIFY, json={"repository_url": "Codertocat/Hello-World"}, headers={"Authorization": ""})
    assert without.status_code == 401
    wrong = verifier.post(VERIFY, json={"repository_url": "Codertocat/Hello-World"},
                          headers={"Authorization": f"Bearer {GITHUB_TOKEN}"})
    assert wrong.status_code == 401
    assert verifier.post(VERIFY, content=b"repository_url=x").status_code == 415
    assert verifier.post(VERIFY, json={"url": "Codertocat/Hello-World"}).status_code == 422
    assert asked.asked == []


def test_verify_repository_without_github_credentials_is_a_503(tmp_path: Any, agent: FakeAgent) -> None:
    settings = Settings(storage_type="memory", data_dir=tmp_path, api_token="t0ken-for-tests",  # type: ignore[call-arg]
                        worker_concurrency=0, agent_env={})
    runtime = build_runtime(settings, agent=agent)
    runtime.github = None
    with TestClient(create_app(runtime), headers={"Authorization": "Bearer t0ken-for-tests"}) as client:
        answer = client.post(VERIFY, json={"repository_url": "Codertocat/Hello-World"})
    assert answer.status_code == 503 and "GITHUB_TOKEN" in answer.json()["detail"]


def test_github_in_the_path_is_a_route_not_an_id(client: TestClient) -> None:
    assert client.get(f"{API}/github").status_code == 404
    assert client.get(f"{API}/github/verify-repository").status_code == 405
