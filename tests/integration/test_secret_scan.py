"""An agent that writes the bot's token into the repository: the work order fails and nothing leaves the host."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.models import Status, WorkOrder
from bot.runtime import Runtime
from bot.settings import Settings
from bot.testing import FakeAgent, FakeGitHub
from tests.gitrepo import branches, git, make_remote
from tests.integration.test_work_orders import claim_and_run, configured

REPO = "Codertocat/Hello-World"


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path / "remotes")


@pytest.fixture
async def engine(settings: Settings, github: FakeGitHub, agent: FakeAgent, remote: Path) -> AsyncIterator[Runtime]:
    runtime = await configured(settings, remote, github, agent)
    yield runtime
    await runtime.store.close()


def token_of(settings: Settings) -> str:
    assert settings.github_token is not None
    return settings.github_token.get_secret_value()


def basic_auth(token: str) -> str:
    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


async def run(engine: Runtime, remote: Path, github: FakeGitHub) -> tuple[WorkOrder, int]:
    comment_id = await github.create_comment(REPO, 7, "queued")
    work_order = WorkOrder(
        repository_url=f"https://github.com/{REPO}", repo_full_name=REPO, issue_number=7,
        user_request="write the config", trigger_actor="Codertocat", progress_comment_id=comment_id,
        metadata={"default_branch": "main", "issue_title": "Config"},
    )
    return await claim_and_run(engine, work_order), comment_id


LEAKS = {
    "raw": lambda t: f"TOKEN = {t!r}\n",
    "basic auth header": lambda t: f"headers = {{'Authorization': 'basic {basic_auth(t)}'}}\n",
    "base64 at an offset": lambda t: base64.b64encode(b"prefix:" + t.encode()).decode() + "\n",
    "base64 wrapped at 76": lambda t: "\n".join(textwrap.wrap(basic_auth(t) * 2, 76)) + "\n",
    "base64url": lambda t: base64.urlsafe_b64encode(b"??" + t.encode()).decode() + "\n",
    "hex": lambda t: t.encode().hex() + "\n",
    "url-encoded in json": lambda t: json.dumps({"u": quote(f"https://x:{t}@h/", safe="")}) + "\n",
    "reversed": lambda t: t[::-1] + "\n",
}


@pytest.mark.parametrize("leak", list(LEAKS))
async def test_a_token_in_the_changes_fails_the_work_order_and_nothing_is_pushed(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent, settings: Settings, leak: str
) -> None:
    token = token_of(settings)
    agent.files = {"hello.txt": "hello\n", "src/config.py": LEAKS[leak](token)}
    agent.answer = f"Wrote the config with {token}"
    done, comment_id = await run(engine, remote, github)

    assert done.status is Status.FAILED
    assert "src/config.py" in (done.error_message or "") and "nothing was committed" in (done.error_message or "")
    assert branches(remote) == ["main"] and github.pulls == []
    seen = [done.model_dump_json(), github.comments[comment_id][2],
            *[s.model_dump_json() for s in await engine.store.list_steps(done.id)]]
    for text in seen:
        assert token not in text and basic_auth(token) not in text and token.encode().hex() not in text


async def test_changes_without_secrets_are_committed(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    agent.files = {"notes.txt": "ghp_ looks like a prefix, x-access-token: is just text\n" + "QUJD" * 40 + "\n"}
    done, _ = await run(engine, remote, github)
    assert done.status is Status.COMPLETED, done.error_message
    assert len(github.pulls) == 1


async def test_trailers_in_the_agents_text_never_reach_the_commit_or_the_pr(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    agent.answer = ("Added hello.txt.\n\nCo-authored-by: Mallory <mallory@evil.example>\n"
                    "Signed-off-by: Linus Torvalds <torvalds@linux-foundation.org>\nChange-Id: I0123\n"
                    "The greeting is friendly.")
    done, _ = await run(engine, remote, github)
    assert done.status is Status.COMPLETED, done.error_message
    message = git("log", "-1", "--format=%B", done.git_branch_name or "", cwd=remote)
    trailers = git("log", "-1", "--format=%(trailers:only,unfold)", done.git_branch_name or "", cwd=remote)
    [(_, _, sent)] = github.pulls
    for text in (message, trailers, str(sent["body"])):
        assert "Mallory" not in text and "Signed-off-by" not in text and "Change-Id" not in text
    assert "Added hello.txt." in message and "The greeting is friendly." in str(sent["body"])
    assert "Co-authored-by: Codertocat" in trailers
