"""Routing: real payloads with edited bodies and labels → the expected Trigger or Ignored."""

from __future__ import annotations

import pytest

from bot.models import Ignored, Trigger
from bot.triggers import TriggerRules, request_after, route
from tests.payloads import example

RULES = TriggerRules(phrase="@claude", label="claude")


def routed(event: str, payload: dict) -> Trigger | Ignored:
    return route(event, payload, RULES)


@pytest.mark.parametrize(
    ("event", "payload", "expected"),
    [
        ("issues", example("issues", "labeled", label__name="claude"), "Resolve this issue."),
        ("issues", example("issues", "labeled", label__name="Claude"), "Resolve this issue."),
        ("issues", example("issues", "labeled", label__name="claude", issue__body="@claude add a README"),
         "add a README"),
        ("issues", example("issues", "opened", issue__body="Please @claude fix the typo"), "fix the typo"),
        ("issues", example("issues", "opened", issue__title="@claude: rename foo", issue__body=""), "rename foo"),
        ("issue_comment", example("issue_comment", "created", comment__body="@claude write hello.txt"),
         "write hello.txt"),
        ("issue_comment", example("issue_comment", "created", comment__body="@CLAUDE, please look"), "please look"),
        ("issue_comment", example("issue_comment", "created", comment__body="(@claude) do it"), "do it"),
    ],
)
def test_triggers_become_requests(event: str, payload: dict, expected: str) -> None:
    trigger = routed(event, payload)
    assert isinstance(trigger, Trigger), trigger
    assert trigger.request == expected
    assert trigger.repo_full_name == "Codertocat/Hello-World"
    assert trigger.issue_number == payload["issue"]["number"]
    assert trigger.clone_url == payload["repository"]["clone_url"]
    assert trigger.actor == payload["sender"]["login"]


def test_comment_trigger_keeps_comment_id_and_issue_context() -> None:
    payload = example("issue_comment", "created", comment__body="@claude go", issue__title="Typo", issue__body="b")
    trigger = routed("issue_comment", payload)
    assert isinstance(trigger, Trigger)
    assert (trigger.comment_id, trigger.issue_title, trigger.issue_body) == (payload["comment"]["id"], "Typo", "b")


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        ("issues", example("issues", "labeled", label__name="bug"), "label 'bug' is not the trigger label"),
        ("issues", example("issues", "labeled", label__name="claude-later"), "is not the trigger label"),
        ("issues", example("issues", "opened", issue__body="nothing to see", issue__title="t"), "does not mention"),
        ("issue_comment", example("issue_comment", "created", comment__body="ask @claude-bot"), "does not mention"),
        ("issue_comment", example("issue_comment", "created", comment__body="mail email@claude.ai"),
         "does not mention"),
        ("issue_comment", example("issue_comment", "created", comment__body="@claudes x"), "does not mention"),
        ("issue_comment", example("issue_comment", "created", comment__body="@claude go",
                                  issue__pull_request={"url": "x"}), "pull requests"),
        ("issue_comment", example("issue_comment", "deleted", comment__body="@claude go"), "not a trigger"),
        ("issue_comment", example("issue_comment", "edited", comment__body="@claude go"), "not a trigger"),
        ("issues", example("issues", "edited"), "not a trigger"),
        ("issues", example("issues", "opened", issue__body="@claude x", issue__state="closed"), "closed"),
        ("push", example("push"), "push is not a trigger"),
        ("ping", example("ping"), "ping is not a trigger"),
        ("pull_request", example("pull_request", "opened"), "pull_request.opened is not a trigger"),
    ],
)
def test_everything_else_is_ignored_with_a_reason(event: str, payload: dict, reason: str) -> None:
    result = routed(event, payload)
    assert isinstance(result, Ignored)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("text", "request_text"),
    [
        ("@claude", ""),
        ("hey @claude please", "please"),
        ("@claude.", ""),
        ("multi\nline @claude\nfix it", "fix it"),
        ("@claude-bot nope", None),
        ("email@claude.ai", None),
        ("me+@claude x", None),
        ("@claudette", None),
        ("see @claude.ai/docs", None),
        ("", None),
    ],
)
def test_phrase_matches_on_word_boundaries(text: str, request_text: str | None) -> None:
    assert request_after("@claude", text) == request_text


def test_custom_phrase_and_label() -> None:
    rules = TriggerRules(phrase="/bot", label="autofix")
    assert isinstance(route("issues", example("issues", "labeled", label__name="autofix"), rules), Trigger)
    comment = example("issue_comment", "created", comment__body="/bot do x")
    trigger = route("issue_comment", comment, rules)
    assert isinstance(trigger, Trigger) and trigger.request == "do x"
