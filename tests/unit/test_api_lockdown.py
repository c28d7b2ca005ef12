"""Attacks on the REST API replayed: anonymous callers, wrong tokens, cross-site posts, huge bodies, foreign URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from githubkit.webhooks import sign
from starlette.testclient import TestClient

from bot.models import Repository
from bot.runtime import Runtime, build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import API_TOKEN, AUTH, SECRET, make_settings
from tests.payloads import example
from tests.support.raw_asgi import call, megabytes

API = "/api/agent-work-orders"
REPO_ID = "00000000-0000-0000-0000-000000000001"
ATTACK = {"repository_url": "http://attacker.example/x.git", "user_request": "run my code",
          "sandbox_type": "git_worktree"}
# Every route, plus the path variants a prefix check would miss; a route added later is closed too.
EVERY_ROUTE = [
    ("GET", f"{API}/"), ("POST", f"{API}/"), ("GET", f"{API}/wo-1"), ("GET", f"{API}/wo-1/steps"),
    ("GET", f"{API}/repositories"), ("POST", f"{API}/repositories"),
    ("PATCH", f"{API}/repositories/{REPO_ID}"), ("DELETE", f"{API}/repositories/{REPO_ID}"),
    ("POST", f"{API}/repositories/{REPO_ID}/verify"), ("POST", f"{API}/wo-1/cancel"), ("POST", f"{API}/wo-1/retry"),
    ("GET", API), ("POST", API), ("GET", f"/{API}/"), ("GET", f"{API}//"), ("GET", "/API/agent-work-orders/"),
    ("HEAD", f"{API}/"), ("OPTIONS", f"{API}/"), ("PUT", f"{API}/"), ("GET", "/api/admin"),
    ("POST", "/health"), ("GET", "/webhooks/github"), ("DELETE", "/webhooks/github"),
    # /metrics names repositories: closed like the API; /openapi.json is public to GET only
    ("GET", "/metrics"), ("HEAD", "/metrics"), ("GET", "/metrics/"), ("GET", "/METRICS"), ("POST", "/openapi.json"),
]


def send(client: TestClient, method: str, path: str, **headers: str | bytes):
    body = json.dumps(ATTACK) if method in ("POST", "PATCH", "PUT") else None
    return client.request(method, path, content=body, headers={"Content-Type": "application/json", **headers})


def store_is_untouched(runtime: Runtime, client: TestClient) -> bool:
    orders = client.portal.call(runtime.store.list_work_orders)  # type: ignore[union-attr]
    repos = client.portal.call(runtime.store.list_repositories)  # type: ignore[union-attr]
    return orders == [] and [r.id for r in repos] == [REPO_ID]


def open_app(tmp_path: Path, github: FakeGitHub, token: str | None) -> tuple[Runtime, TestClient]:
    runtime = build_runtime(make_settings(tmp_path, api_token=token), github=github)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    client.__enter__()
    repo = Repository(id=REPO_ID, repository_url="https://github.com/Codertocat/Hello-World")
    client.portal.call(runtime.store.add_repository, repo)  # type: ignore[union-attr]
    return runtime, client


@pytest.fixture
def no_token(tmp_path: Path, github: FakeGitHub) -> Iterator[tuple[Runtime, TestClient]]:
    runtime, client = open_app(tmp_path, github, None)
    yield runtime, client
    client.__exit__(None, None, None)


@pytest.fixture
def with_token(tmp_path: Path, github: FakeGitHub) -> Iterator[tuple[Runtime, TestClient]]:
    runtime, client = open_app(tmp_path, github, API_TOKEN)
    yield runtime, client
    client.__exit__(None, None, None)


@pytest.mark.parametrize(("method", "path"), EVERY_ROUTE)
def test_without_a_configured_token_every_api_route_is_forbidden(
    no_token: tuple[Runtime, TestClient], method: str, path: str
) -> None:
    runtime, client = no_token
    response = send(client, method, path, Authorization="Bearer anything")
    assert response.status_code == 403
    if method != "HEAD":
        assert "the API is disabled: set AWO_API_TOKEN" in response.json()["detail"]
    assert store_is_untouched(runtime, client)


# The dashboard: a page sends the anonymous to the login, a form or a stream is refused, and nothing changes.
DASHBOARD = [
    ("GET", "/"), ("GET", "/?status=failed"), ("GET", "/work-orders/wo-1"), ("GET", "/work-orders/wo-1/events"),
    ("GET", "/events"), ("GET", "/repositories"), ("GET", "/costs"), ("HEAD", "/"),
    ("POST", "/work-orders/wo-1/cancel"), ("POST", "/work-orders/wo-1/retry"), ("POST", "/repositories"),
    ("POST", f"/repositories/{REPO_ID}/verify"), ("POST", f"/repositories/{REPO_ID}/remove"), ("POST", "/logout"),
]


@pytest.mark.parametrize("token", [API_TOKEN, None])
@pytest.mark.parametrize(("method", "path"), DASHBOARD)
def test_a_dashboard_page_without_a_login_shows_nothing_and_changes_nothing(
    tmp_path: Path, github: FakeGitHub, token: str | None, method: str, path: str
) -> None:
    runtime, client = open_app(tmp_path, github, token)
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "awo_session=v1.1.x.y"}):
            body = "csrf=x&repository_url=octo%2Fnew" if method == "POST" else None
            response = client.request(method, path, content=body, follow_redirects=False, headers={
                "Content-Type": "application/x-www-form-urlencoded", **headers})
            if method in ("GET", "HEAD"):
                assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 401
        assert store_is_untouched(runtime, client)
    finally:
        client.__exit__(None, None, None)


def test_without_a_token_webhooks_and_health_still_work(no_token: tuple[Runtime, TestClient]) -> None:
    _, client = no_token
    assert client.get("/health").status_code == 200
    assert client.head("/health").status_code == 200
    body = json.dumps(example("ping")).encode()
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p-1", "X-Hub-Signature-256": sign(SECRET, body)}
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202


@pytest.mark.parametrize(("method", "path"), EVERY_ROUTE)
def test_a_missing_or_wrong_token_is_a_401_on_every_route(
    with_token: tuple[Runtime, TestClient], method: str, path: str
) -> None:
    runtime, client = with_token
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = send(client, method, path, **headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert store_is_untouched(runtime, client)


@pytest.mark.parametrize("authorization", [
    "", "Bearer", "Bearer ", f"Bearer {API_TOKEN}x", f"Bearer {API_TOKEN[:-1]}", f"Basic {API_TOKEN}",
    f"Token {API_TOKEN}", API_TOKEN, f"Bearer{API_TOKEN}", "Bearer \u00e9t\u00e9".encode("latin-1"),
])
def test_a_token_that_is_almost_right_is_a_401(
    with_token: tuple[Runtime, TestClient], authorization: str | bytes
) -> None:
    runtime, client = with_token
    for method, path in (("GET", f"{API}/"), ("POST", f"{API}/"), ("DELETE", f"{API}/repositories/{REPO_ID}")):
        assert send(client, method, path, Authorization=authorization).status_code == 401
    assert store_is_untouched(runtime, client)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_right_token_opens_the_api_whatever_the_scheme_case(
    with_token: tuple[Runtime, TestClient], scheme: str
) -> None:
    _, client = with_token
    response = client.get(f"{API}/repositories", headers={"Authorization": f"{scheme} {API_TOKEN}"})
    assert response.status_code == 200 and [r["id"] for r in response.json()] == [REPO_ID]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None, "application/jsonx", "text/json"])
def test_a_cross_site_simple_post_is_refused_415(
    with_token: tuple[Runtime, TestClient], content_type: str | None
) -> None:
    """A web page can POST text/plain anywhere without a preflight; the API takes nothing but JSON."""
    runtime, client = with_token
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    body = json.dumps({**ATTACK, "repository_url": "Codertocat/Hello-World"})
    for path in (f"{API}/", f"{API}/repositories"):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 415, (path, response.text)
    assert store_is_untouched(runtime, client)


@pytest.mark.parametrize("url", [
    "http://attacker.example/x.git", "https://attacker.example/owner/repo", "octo/unconfigured",
    "http://attacker.example/Codertocat/Hello-World", "https://x-access-token:t@evil.example/Codertocat/Hello-World",
    "file:///etc", "fd::17", "ext::sh -c touch% /tmp/pwned", "-uhttps://github.com/Codertocat/Hello-World",
])
def test_a_work_order_for_an_unconfigured_repository_or_host_is_refused(
    with_token: tuple[Runtime, TestClient], url: str
) -> None:
    runtime, client = with_token
    response = client.post(f"{API}/", json={**ATTACK, "repository_url": url}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert "x-access-token" not in response.text
    assert store_is_untouched(runtime, client)


def test_a_work_order_clones_the_configured_url_never_the_requests(with_token: tuple[Runtime, TestClient]) -> None:
    _, client = with_token
    for named in ("Codertocat/Hello-World", "https://github.com/codertocat/hello-world.git"):
        response = client.post(f"{API}/", json={**ATTACK, "repository_url": named, "clone_url": "http://evil/x",
                                                "metadata": {"clone_url": "http://evil/x"}}, headers=AUTH)
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["repository_url"] == "https://github.com/Codertocat/Hello-World"
        assert order["repo_full_name"] == "Codertocat/Hello-World"
        assert "clone_url" not in order["metadata"]


def test_a_declared_400_mb_body_is_refused_before_reading(with_token: tuple[Runtime, TestClient]) -> None:
    runtime, client = with_token
    headers = {**AUTH, "Content-Type": "application/json", "Content-Length": str(400 * 1024 * 1024)}
    for path in (f"{API}/", f"{API}/repositories"):
        response = client.post(path, content=b"{}", headers=headers)
        assert response.status_code == 413 and "64 KB" in response.json()["detail"]
    assert store_is_untouched(runtime, client)


def test_a_body_just_over_64_kb_is_refused_and_just_under_is_read(with_token: tuple[Runtime, TestClient]) -> None:
    runtime, client = with_token
    under = json.dumps({**ATTACK, "repository_url": "Codertocat/Hello-World", "user_request": "x" * 60000})
    over = json.dumps({**ATTACK, "repository_url": "Codertocat/Hello-World", "user_request": "x" * 66000})
    headers = {**AUTH, "Content-Type": "application/json"}
    assert client.post(f"{API}/", content=over, headers=headers).status_code == 413
    assert store_is_untouched(runtime, client)
    assert client.post(f"{API}/", content=under, headers=headers).status_code == 201


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", f"{API}/", b"[" * 100_000 + b"]" * 100_000),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "\\ud800"}'),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "go", '
                        b'"github_issue_number": 99999999999999999999999}'),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "go", '
                        b'"github_issue_number": "99999999999"}'),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "go", '
                        b'"github_issue_number": -1}'),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "go", '
                        b'"sandbox_type": "docker-root"}'),
    ("POST", f"{API}/", b'{"repository_url": ["a"], "user_request": {"b": 1}}'),
    ("POST", f"{API}/", b'{"repository_url": "Codertocat/Hello-World", "user_request": "go", '
                        b'"selected_commands": "plan"}'),
    ("POST", f"{API}/", b"\xff\xfe not utf-8"),
    ("POST", f"{API}/", b"null"),
    ("POST", f"{API}/repositories", b'{"repository_url": 12}'),
    ("POST", f"{API}/repositories", b'{"repository_url": "Codertocat/Hello-World", "verify": "sometimes"}'),
    ("PATCH", f"{API}/repositories/{REPO_ID}", b'{"default_sandbox_type": "kubernetes"}'),
    ("PATCH", f"{API}/repositories/{REPO_ID}", b'{"default_branch": "--upload-pack=touch /tmp/x"}'),
    ("PATCH", f"{API}/repositories/{REPO_ID}", b'{"default_branch": 7}'),
    ("PATCH", f"{API}/repositories/{REPO_ID}", b'{"default_commands": [1, 2]}'),
    ("PATCH", f"{API}/repositories/not-a-uuid", b'{"default_branch": "main"}'),
    ("PATCH", f"{API}/repositories/%00", b'{"default_branch": "main"}'),
    ("DELETE", f"{API}/repositories/{'9' * 500}", b""),
    ("POST", f"{API}/repositories/%F0%9F%92%A5/verify", b""),
    ("GET", f"{API}/%00", b""),
    ("GET", f"{API}/{'a' * 5000}/steps", b""),
    ("GET", f"{API}/?status=%00", b""),
    ("GET", f"{API}/?status=sleeping", b""),
])
def test_malformed_api_input_is_a_4xx_never_a_500(
    with_token: tuple[Runtime, TestClient], method: str, path: str, body: bytes
) -> None:
    runtime, client = with_token
    response = client.request(method, path, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert store_is_untouched(runtime, client)


def test_a_streamed_400_mb_body_is_refused_after_64_kb(with_token: tuple[Runtime, TestClient]) -> None:
    runtime, client = with_token
    headers = {**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    for path in (f"{API}/", f"{API}/repositories"):
        status, pulled = client.portal.call(call, client.app, "POST", path, headers, megabytes(400))  # type: ignore[union-attr]
        assert status == 413
        assert pulled <= 1024 * 1024  # one chunk, not 400 MB
    assert store_is_untouched(runtime, client)


def test_an_anonymous_400_mb_body_is_never_read(no_token: tuple[Runtime, TestClient]) -> None:
    runtime, client = no_token
    headers = {"Content-Type": "application/json", "Content-Length": str(400 * 1024 * 1024)}
    status, pulled = client.portal.call(call, client.app, "POST", f"{API}/", headers, megabytes(400))  # type: ignore[union-attr]
    assert (status, pulled) == (403, 0)
    assert store_is_untouched(runtime, client)


def test_a_repository_url_with_credentials_is_refused(with_token: tuple[Runtime, TestClient]) -> None:
    runtime, client = with_token
    for url in ("https://x-access-token:ghp_secret@github.com/octo/repo", "https://user@github.com/octo/repo"):
        response = client.post(f"{API}/repositories", json={"repository_url": url, "verify": False}, headers=AUTH)
        assert response.status_code == 422 and "ghp_secret" not in response.text
    assert store_is_untouched(runtime, client)
