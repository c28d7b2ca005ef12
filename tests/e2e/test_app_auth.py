"""End to end as a GitHub App: the real server authenticates with a JWT signed by a key generated here, works a
labelled issue into a PR with installation tokens that expire during the run, and commits as the App's bot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import CLAUDE, REPO, TOKEN, Stack, script_for, wait_until
from tests.gitrepo import git, show
from tests.payloads import example
from tests.support.fake_github_app import new_key_pair
from tests.support.fake_github_model import stable_id

pytestmark = pytest.mark.e2e

APP_ID, SLUG, INSTALLATION = 31337, "awo-e2e", 4711
TOKEN_SECONDS = 3  # every installation token expires during a run
WRITE_HELLO = {"tool_use": {"name": "Write", "input": {"file_path": "hello.txt", "content": "hello from the app\n"}}}


class AppStack(Stack):
    """The stack with App credentials instead of GITHUB_TOKEN."""

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = super().environment(extra)
        del env["GITHUB_TOKEN"]
        return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    root = Path(tmp_path_factory.mktemp("e2e-app"))
    private, public = new_key_pair()
    key = root / "app.pem"
    key.write_text(private)
    running = AppStack(root, GITHUB_APP_ID=str(APP_ID), GITHUB_APP_PRIVATE_KEY_FILE=str(key))
    running.gh.seed({"app": {"id": APP_ID, "slug": SLUG, "public_key": public, "token_seconds": TOKEN_SECONDS,
                             "installations": {REPO: INSTALLATION}}})
    running.configure_repo()
    yield running
    running.stop()


def issued(stack: Stack) -> list[dict[str, Any]]:
    return [c for c in stack.gh.calls("POST", r"/access_tokens$") if c["status"] == 201]


def test_a_labelled_issue_becomes_a_pr_as_the_app_with_tokens_refreshed(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: greet."}], [WRITE_HELLO, {"text": "Added hello.txt."}]))
    stack.gh.fault("POST", r"/pulls$", status=401, body={"message": "Bad credentials"})  # revoked: asked again
    payload = stack.issue_payload(issue, "Say hello", installation={"id": INSTALLATION, "node_id": "MDIzOk"})
    assert stack.deliver("issues", payload).status_code == 202

    order = stack.finished(issue)
    assert order["status"] == "completed", (order, stack.log()[-3000:])
    branch = order["git_branch_name"]
    assert show(stack.remote, branch, "hello.txt") == "hello from the app"
    login = f"{SLUG}[bot]"
    author = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", branch, cwd=stack.remote)
    expected = f"{login} <{stable_id(login)}+{login}@users.noreply.github.com>"
    assert author == f"{expected}|{expected}"

    [pull] = [p for p in stack.gh.pulls(REPO) if p["head"] == branch]
    assert order["pr_url"] == pull["html_url"]
    tries = [c for c in stack.gh.calls("POST", r"/pulls$") if c["json"]["head"] == branch]
    assert [c["status"] for c in tries] == [401, 201]
    assert tries[0]["authorization"] != tries[1]["authorization"]  # a new token for the repeat
    grants = issued(stack)
    prefix = stack.api_url.removeprefix(stack.github.url)  # "/api/v3" on GitHub Enterprise Server
    granting = f"{prefix}/app/installations/{INSTALLATION}/access_tokens"
    assert len(grants) >= 2 and {g["path"] for g in grants} == {granting}
    assert all(g["json"]["repositories"] == ["Hello-World"] for g in grants)
    tokens = {c["authorization"] for c in stack.gh.calls() if str(c["path"]).startswith(f"{prefix}/repos/")
              and not str(c["path"]).endswith("/installation")}  # the look-up itself is made with the JWT
    assert f"token {TOKEN}" not in tokens and all(str(t).startswith("token ghs_") for t in tokens)
    expired = [c for c in stack.gh.calls() if c["status"] == 401 and not c["faulted"]]
    assert expired == []  # tokens were replaced before they ran out
    body = wait_until(lambda: "✅ Done" in stack.comment_on(issue) and stack.comment_on(issue))
    assert pull["html_url"] in body


def test_assigning_the_apps_bot_asks_for_work(stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: nothing to change."}], [{"text": "Nothing to do."}]))
    payload = example("issues", "assigned", assignee__login=f"{SLUG}[bot]", issue__number=issue,
                      issue__title="Look at this", repository__clone_url=str(stack.remote))
    assert stack.deliver("issues", payload).status_code == 202
    order = stack.finished(issue)
    assert order["status"] == "completed", order
