"""A bot on GitHub Enterprise Server: slugs name the GHES host, and only deliveries and requests from that host
reach a repository configured on it (a github.com repository with the same owner/name is another repository)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.github_data import RepoInfo
from bot.runtime import build_runtime
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.payloads import example
from tests.unit.test_intake import API, AUTH, deliver, intake_settings, outcome

GHES = "https://ghe.example.com"
NAME = "Codertocat/Hello-World"


@pytest.fixture
def ghes(tmp_path: Path, github: FakeGitHub, agent: FakeAgent) -> Iterator[TestClient]:
    runtime = build_runtime(intake_settings(tmp_path, github_api_url=f"{GHES}/api/v3"), github=github, agent=agent)
    with TestClient(create_app(runtime)) as client:
        added = client.post(f"{API}/repositories", json={"repository_url": NAME, "verify": False}, headers=AUTH)
        assert added.status_code == 201, added.text
        assert added.json()["repository_url"] == f"{GHES}/{NAME}"
        yield client


def issue_from(web: str) -> dict[str, object]:
    return example("issues", "opened", issue__body="@claude fix the typo", issue__number=7,
                   repository__html_url=f"{web}/{NAME}", repository__clone_url=f"{web}/{NAME}.git")


def test_a_delivery_from_the_ghes_host_is_queued_and_one_naming_github_com_is_not(ghes: TestClient) -> None:
    assert deliver(ghes, issue_from("https://github.com"), "from-github-com") == 202
    assert deliver(ghes, issue_from(GHES), "from-ghes") == 202
    assert outcome(ghes, "from-github-com") == f"refused: repository {NAME} is not configured"
    assert outcome(ghes, "from-ghes").startswith("queued wo-")


def test_a_work_order_request_names_the_ghes_repository_by_slug_or_ghes_url_never_by_github_com(
    ghes: TestClient,
) -> None:
    body = {"user_request": "Add a CONTRIBUTING file"}
    for named in (NAME, f"{GHES}/{NAME}"):
        created = ghes.post(f"{API}/", json={**body, "repository_url": named}, headers=AUTH)
        assert created.status_code == 201, created.text
        assert created.json()["repository_url"] == f"{GHES}/{NAME}"
    refused = ghes.post(f"{API}/", json={**body, "repository_url": f"https://github.com/{NAME}"}, headers=AUTH)
    assert refused.status_code == 422 and "not a configured repository" in refused.json()["detail"]


def test_a_github_com_repository_is_not_verified_against_the_ghes_api(ghes: TestClient, github: FakeGitHub) -> None:
    """Verifying asks GHES for `o/r`: its answer must never be stored as github.com's `o/r`."""
    github.repos[NAME] = RepoInfo(NAME, "Codertocat", "Hello-World", "trunk", f"{GHES}/{NAME}.git", f"{GHES}/{NAME}")
    body = {"repository_url": f"https://github.com/{NAME}", "verify": True}
    refused = ghes.post(f"{API}/repositories", json=body, headers=AUTH)
    assert refused.status_code == 404 and "not on this bot's GitHub (https://ghe.example.com)" in refused.text
    listed = ghes.get(f"{API}/repositories", headers=AUTH).json()
    assert [r["repository_url"] for r in listed] == [f"{GHES}/{NAME}"]
    verified = ghes.post(f"{API}/repositories/{listed[0]['id']}/verify", headers=AUTH)
    assert verified.status_code == 200 and verified.json()["is_verified"], verified.text
    assert verified.json()["default_branch"] == "trunk" and verified.json()["clone_url"] == f"{GHES}/{NAME}.git"
