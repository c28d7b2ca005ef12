"""The seed's REST API: repositories and manual work orders; clear 4xx errors, no internals in a 500."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.github import RepoInfo
from bot.runtime import Runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH

API = "/api/agent-work-orders"
HELLO = RepoInfo("Codertocat/Hello-World", "Codertocat", "Hello-World", "trunk",
                 "https://github.com/Codertocat/Hello-World.git", "https://github.com/Codertocat/Hello-World")


def test_repository_lifecycle_with_verification(client: TestClient, github: FakeGitHub) -> None:
    github.repos[HELLO.full_name] = HELLO
    created = client.post(f"{API}/repositories", json={"repository_url": "https://github.com/Codertocat/Hello-World"})
    assert created.status_code == 201, created.text
    repo = created.json()
    assert (repo["display_name"], repo["owner"], repo["default_branch"], repo["is_verified"]) == (
        "Codertocat/Hello-World", "Codertocat", "trunk", True)
    assert client.get(f"{API}/repositories").json() == [repo]

    patched = client.patch(f"{API}/repositories/{repo['id']}", json={"default_commands": ["planning", "execute"]})
    assert patched.status_code == 200 and patched.json()["default_commands"] == ["planning", "execute"]
    assert client.post(f"{API}/repositories/{repo['id']}/verify").json()["is_verified"] is True
    assert client.delete(f"{API}/repositories/{repo['id']}").status_code == 204
    assert client.get(f"{API}/repositories").json() == []


def test_repository_errors_are_clear(client: TestClient) -> None:
    bad = client.post(f"{API}/repositories", json={"repository_url": "not a url", "verify": False})
    assert bad.status_code == 422 and "repository_url" in str(bad.json()["detail"])
    body = {"repository_url": "Codertocat/Hello-World", "verify": False}
    assert client.post(f"{API}/repositories", json=body).status_code == 201
    duplicate = client.post(f"{API}/repositories", json=body)
    assert duplicate.status_code == 409 and "already configured" in duplicate.json()["detail"]
    missing = client.post(f"{API}/repositories", json={"repository_url": "octo/missing"})
    assert missing.status_code == 404 and "404" in missing.json()["detail"]
    assert client.delete(f"{API}/repositories/nope").status_code == 404
    assert client.patch(f"{API}/repositories/nope", json={"default_commands": ["dance"]}).status_code == 422
    assert client.post(f"{API}/repositories", content=b"{oops", headers={"content-type": "application/json"}
                       ).status_code == 422


def test_manual_work_order_is_queued_and_readable(client: TestClient) -> None:
    client.post(f"{API}/repositories", json={"repository_url": "Codertocat/Hello-World", "verify": False})
    created = client.post(f"{API}/", json={
        "repository_url": "https://github.com/Codertocat/Hello-World", "sandbox_type": "git_worktree",
        "user_request": "Add a CONTRIBUTING file", "selected_commands": ["planning", "execute"],
        "github_issue_number": "12"})
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending" and order["issue_number"] == 12
    assert order["repo_full_name"] == "Codertocat/Hello-World"
    assert order["repository_url"] == "https://github.com/Codertocat/Hello-World"
    assert client.get(f"{API}/{order['agent_work_order_id']}").json()["user_request"] == "Add a CONTRIBUTING file"
    assert client.get(f"{API}/?status=pending").json()[0]["agent_work_order_id"] == order["agent_work_order_id"]
    assert client.get(f"{API}/?status=completed").json() == []
    steps = client.get(f"{API}/{order['agent_work_order_id']}/steps").json()
    assert steps == {"agent_work_order_id": order["agent_work_order_id"], "steps": []}


def test_work_order_errors_are_clear(client: TestClient) -> None:
    assert client.get(f"{API}/wo-missing").status_code == 404
    assert client.get(f"{API}/wo-missing/steps").status_code == 404
    assert client.get(f"{API}/?status=sleeping").status_code == 422
    unknown = client.post(f"{API}/", json={"repository_url": "x/y", "user_request": "go", "selected_commands": ["x"]})
    assert unknown.status_code == 422 and "unknown step" in str(unknown.json()["detail"])
    assert client.post(f"{API}/", json={"repository_url": "x/y"}).status_code == 422


def test_health_has_the_seed_shape(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["service"] == "agent-work-orders" and body["storage_type"] == "memory"
    assert body["database"] == {"status": "healthy", "tables_exist": True}
    assert set(body["dependencies"]) == {"claude_cli", "git", "github"}
    assert body["dependencies"]["git"]["available"] is True
    assert body["dependencies"]["github"]["available"] is True


def test_an_unexpected_error_is_a_500_without_internals(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    runtime.store.list_repositories = explode  # type: ignore[method-assign]
    with TestClient(create_app(runtime), raise_server_exceptions=False, headers=AUTH) as client:
        response = client.get(f"{API}/repositories")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret internals" in caplog.text  # in the log, for the operator


def test_api_token_guards_the_api_but_not_webhooks_or_health(tmp_path, github: FakeGitHub) -> None:
    from bot.runtime import build_runtime
    from bot.web.app import create_app
    from tests.conftest import make_settings

    runtime = build_runtime(make_settings(tmp_path, api_token="t0ken"), github=github)
    with TestClient(create_app(runtime)) as guarded:
        assert guarded.get(f"{API}/").status_code == 401
        assert guarded.get(f"{API}/", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        assert guarded.get(f"{API}/", headers={"Authorization": "bearer t0ken"}).status_code == 200
        assert guarded.get("/health").status_code == 200


def test_unknown_routes_and_methods_answer_json_details(client: TestClient) -> None:
    """The README promises `{"detail": ...}` for every error, not Starlette's plain-text 404/405."""
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong = client.put("/health")
    assert wrong.status_code == 405 and wrong.json() == {"detail": "Method Not Allowed"}
    assert "GET" in wrong.headers["allow"]
    webhook = client.get("/webhooks/github")
    assert webhook.status_code == 405 and webhook.headers["content-type"] == "application/json"


def test_a_sandbox_type_the_seed_forbids_is_a_422_on_sqlite_and_not_stored(tmp_path, github: FakeGitHub) -> None:
    from bot.runtime import build_runtime
    from tests.conftest import make_settings

    runtime = build_runtime(make_settings(tmp_path, storage_type="sqlite"), github=github)
    with TestClient(create_app(runtime), headers=AUTH) as sqlite_client:
        created = sqlite_client.post(f"{API}/repositories", json={"repository_url": "octo/hello", "verify": False})
        repo_id = created.json()["id"]
        refused = sqlite_client.patch(f"{API}/repositories/{repo_id}", json={"default_sandbox_type": "kubernetes"})
        assert refused.status_code == 422 and "default_sandbox_type" in str(refused.json()["detail"])
        assert sqlite_client.get(f"{API}/repositories").json()[0]["default_sandbox_type"] == "git_worktree"
