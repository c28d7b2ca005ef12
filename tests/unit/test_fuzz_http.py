"""Fuzzing the webhook and the API with hypothesis: whatever arrives, the answer is never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from githubkit.webhooks import sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.testing import FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, SECRET, make_settings
from tests.payloads import example

API = "/api/agent-work-orders"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NASTY_TEXT = st.sampled_from([
    "\ud800", "\udfff", "\u0000", "\u202e", "\u200b", "\ufeff", "../../etc/passwd", "%00", "a" * 70000,
    "https://x-access-token:t@evil.example/Codertocat/Hello-World", "file:///etc", "fd::3", "-c core.sshCommand=x",
])
NASTY_NUMBERS = st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**400, 1e308, -0.0, 0, -1])
SCALARS = st.none() | st.booleans() | st.integers() | NASTY_NUMBERS | st.floats(allow_nan=False) | st.text() \
    | NASTY_TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=20)
FIELDS = ["repository_url", "user_request", "sandbox_type", "selected_commands", "github_issue_number", "verify",
          "default_sandbox_type", "default_commands", "default_branch", "action", "repository", "issue", "comment"]
OBJECTS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), JSON, max_size=6)
BODIES = st.one_of(OBJECTS.map(lambda o: json.dumps(o).encode()), JSON.map(lambda o: json.dumps(o).encode()),
                   st.binary(max_size=300), st.sampled_from([b"[" * 5000, b'{"a":' * 3000, b'"\\ud800"', b"NaN"]))


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def app_client(tmp_path: Path, github: FakeGitHub) -> Iterator[TestClient]:
    runtime = build_runtime(make_settings(tmp_path), github=github)
    runtime.intake.submit = lambda delivery: None  # type: ignore[method-assign]  # intake is not under test
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.post(f"{API}/repositories", json={"repository_url": "Codertocat/Hello-World", "verify": False},
                    headers=AUTH)
        yield client


def test_signed_webhook_deliveries_never_get_a_5xx(app_client: TestClient) -> None:
    counter = iter(range(10**9))

    @FUZZ
    @given(event=st.text(min_size=1, max_size=20).filter(str.isprintable), body=BODIES | st.builds(
        lambda edit: _dumps({**example("issues", "opened"), **edit}), OBJECTS))
    def deliver(event: str, body: bytes) -> None:
        headers: dict[str, str | bytes]
        headers = {"X-GitHub-Event": event.encode("utf-8", "surrogatepass"),
                   "X-GitHub-Delivery": f"fuzz-{next(counter)}", "X-Hub-Signature-256": sign(SECRET, body),
                   "Content-Type": "application/json"}
        response = app_client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code in (200, 202, 400, 413), (response.status_code, response.text)

    deliver()


def test_unsigned_or_odd_webhook_headers_never_get_a_5xx(app_client: TestClient) -> None:
    header_values = st.binary(max_size=80).filter(lambda v: not set(v) & {0, 10, 13})
    names = st.sampled_from(["X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256", "Content-Type",
                             "Content-Length", "X-Hub-Signature"])

    @FUZZ
    @given(headers=st.dictionaries(names, header_values), body=BODIES)
    def deliver(headers: dict[str, bytes], body: bytes) -> None:
        response = app_client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code < 500, (response.status_code, response.text)

    deliver()


ROUTES = [("POST", f"{API}/"), ("GET", f"{API}/"), ("GET", f"{API}/{{id}}"), ("GET", f"{API}/{{id}}/steps"),
          ("GET", f"{API}/repositories"), ("POST", f"{API}/repositories"), ("PATCH", f"{API}/repositories/{{id}}"),
          ("DELETE", f"{API}/repositories/{{id}}"), ("POST", f"{API}/repositories/{{id}}/verify")]
IDS = st.text(max_size=40).map(lambda t: t.replace("/", "").replace("?", "").replace("#", "")) | st.sampled_from(
    ["00000000-0000-0000-0000-000000000000", "wo-00000000", "%00", "%F0%9F", "..", "%2e%2e", "9" * 400])


def test_authorised_api_calls_never_get_a_5xx(app_client: TestClient) -> None:
    @FUZZ
    @given(route=st.sampled_from(ROUTES), path_id=IDS, body=BODIES,
           query=st.dictionaries(st.sampled_from(["status", "limit", "x"]), st.text(max_size=12), max_size=2),
           content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]))
    def call(route: tuple[str, str], path_id: str, body: bytes, query: dict[str, str], content_type: str) -> None:
        method, template = route
        encoded = quote(path_id.encode("utf-8", "surrogatepass"), safe="%")
        path = template.replace("{id}", encoded or "x")
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        response = app_client.request(method, path, content=body, params=query, headers=headers)
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        assert response.status_code != 500 or response.json() == {"detail": "internal server error"}

    call()
