"""What the agent says is stored and published redacted: a token in its answer never reaches a step or a PR."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.models import Status
from bot.runtime import Runtime
from bot.testing import FakeAgent, FakeGitHub

from .test_work_orders import claim_and_run, engine, order, remote

__all__ = ["engine", "remote"]  # fixtures, used by name


async def test_an_agent_answer_carrying_the_token_is_stored_redacted(
    engine: Runtime, remote: Path, github: FakeGitHub, agent: FakeAgent
) -> None:
    token = engine.settings.github_token.get_secret_value()  # type: ignore[union-attr]
    header = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    agent.answer = f"Added hello.txt. My token is {token}; header AUTHORIZATION: basic {header}"
    comment_id = await github.create_comment("Codertocat/Hello-World", 7, "queued")
    done = await claim_and_run(engine, order(remote, "w", progress_comment_id=comment_id))
    assert done.status is Status.COMPLETED, done.error_message
    outputs = [s.output or "" for s in await engine.store.list_steps(done.id)]
    [plan, implement] = [o for o in outputs if o.startswith("Added hello.txt")]
    for text in (plan, implement, str(github.pulls[0][2]["body"]), github.comments[comment_id][2]):
        assert token not in text and header not in text
    assert "My token is ***" in implement
