"""What the agent says is stored and published redacted: a token in its answer never reaches a step or a PR."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.models import Status
from bot.runtime import Runtime
from bot.testing import FakeAgent, FakeGitHub
from bot.texts import PROMPT_LIMIT

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


async def test_each_agent_step_stores_its_prompt_with_the_issue_text_and_never_a_secret(
    engine: Runtime, remote: Path
) -> None:
    token = engine.settings.github_token.get_secret_value()  # type: ignore[union-attr]
    body = f"The greeting is missing. CI logs show GITHUB_TOKEN={token} and ghp_{'a' * 36} (please ignore)."
    done = await claim_and_run(engine, order(remote, "w", user_request=f"write hello.txt, token {token}",
                                             metadata={**order(remote, "w").metadata, "issue_body": body}))
    assert done.status is Status.COMPLETED, done.error_message
    prompts = {s.step: s.prompt for s in await engine.store.list_steps(done.id)}
    assert prompts["checkout"] is None and prompts["commit"] is None  # no agent in those steps
    for step in ("plan", "implement"):
        prompt = prompts[step] or ""
        assert "Say hello" in prompt and "The greeting is missing." in prompt and "write hello.txt" in prompt
        assert token not in prompt and "ghp_aaaa" not in prompt and "***" in prompt


async def test_a_prompt_longer_than_the_bound_is_stored_cut_with_a_note(engine: Runtime, remote: Path) -> None:
    body = "The greeting is missing. " + "x" * 40_000
    done = await claim_and_run(engine, order(remote, "w", metadata={**order(remote, "w").metadata,
                                                                    "issue_body": body}))
    assert done.status is Status.COMPLETED, done.error_message
    plan = next(s.prompt for s in await engine.store.list_steps(done.id) if s.step == "plan") or ""
    assert len(plan) <= PROMPT_LIMIT and "The greeting is missing." in plan
    assert plan.endswith("more characters of the prompt were not stored]")
