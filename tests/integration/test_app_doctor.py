"""`awo doctor` as a GitHub App: GitHub must accept the App's JWT, and the App must be installed on each repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_doctor import REPO, configure, doctor, doctor_settings
from tests.support.fake_anthropic import FakeAnthropicServer
from tests.support.fake_github import FakeGitHub
from tests.support.fake_github_app import new_key_pair

PRIVATE, PUBLIC = new_key_pair()


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


def app_github(installed: bool) -> FakeGitHub:
    return FakeGitHub({"tokens": ["ghp_not_the_apps"], "repos": {REPO: {"default_branch": "main"}},
                       "app": {"id": 9, "slug": "awo-doc", "public_key": PUBLIC,
                               "installations": {REPO: 5} if installed else {}}})


@pytest.mark.parametrize(("key", "installed", "said"), [
    (PRIVATE, True, "ok   GitHub ({url}): reachable as the App awo-doc[bot]; 1 repositories readable"),
    (PRIVATE, False, f"MISS GitHub ({{url}}): cannot read {REPO} as the App (is it installed there?)"),
    (new_key_pair()[0], True, "MISS GitHub ({url}): the App (GITHUB_APP_ID 9) was refused"),
])
def test_the_doctor_tries_the_app(tmp_path: Path, anthropic: FakeAnthropicServer, capsys: pytest.CaptureFixture[str],
                                  key: str, installed: bool, said: str) -> None:
    with app_github(installed) as github:
        settings = doctor_settings(tmp_path, github, anthropic.url, github_token=None, github_app_id="9",
                                   github_app_private_key=key)
        configure(settings)
        code, out = doctor(settings, capsys)
    assert said.format(url=github.url) in out, out
    assert (code == 0) is said.startswith("ok"), out
