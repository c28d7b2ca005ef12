"""The pre-filter run on receipt: certain about what can never trigger, never wrong about what could."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Ignored, Trigger
from bot.triggers import TriggerRules, never_a_trigger, route
from bot.web.webhooks import outcome_now, read_head
from tests.payloads import _examples, example

RULES = TriggerRules(phrase="@claude", label="claude")
# Everything the sanitiser decodes or drops, so a phrase may appear only once the text is sanitised.
TRICKS = ["@claude", "@cla\u200bude", "&#64;claude", "&commat;claude", "@cla<b></b>ude", "\uff20claude",
          "@CLAUDE", "@Claude", "@cla<!-- x -->ude", "@c\u0301laude", "@cla\x00ude", "@\u212a", "ſ"]


def comment(body: object) -> dict:
    return example("issue_comment", "created", comment__body=body)


def review_comment(body: object) -> dict:
    return example("pull_request_review_comment", "created", comment__body=body)


def review(body: object) -> dict:
    return example("pull_request_review", "submitted", review__body=body)


# Every text a trigger phrase is looked for in: the event, and its payload with that text.
WRITTEN = {
    "issue_comment": comment,
    "issues": lambda body: example("issues", "opened", issue__body=body, issue__title="t"),
    "pull_request_review_comment": review_comment,
    "pull_request_review": review,
}


@pytest.mark.parametrize("body", TRICKS)
def test_a_text_that_might_mention_the_phrase_is_left_to_routing(body: str) -> None:
    for event, payload_with in WRITTEN.items():
        payload = payload_with(body)
        if isinstance(route(event, payload, RULES), Trigger):
            assert never_a_trigger(event, payload, RULES) is None, (event, body)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(list(WRITTEN)),
       st.lists(st.sampled_from([*TRICKS, "a", " ", "\n", "> ", "`", "&", ";", "#", "6", "4", "<", ">", "c",
                                 "l", "a", "u", "d", "e", "@", "\u200b", "-", "."]), max_size=12))
def test_never_ignored_where_routing_finds_a_trigger(event: str, parts: list[str]) -> None:
    payload = WRITTEN[event]("".join(parts))
    if isinstance(route(event, payload, RULES), Trigger):
        assert never_a_trigger(event, payload, RULES) is None


@pytest.mark.parametrize("kind", [("issues", "assigned"), ("pull_request", "assigned"), ("pull_request", "labeled")])
@pytest.mark.parametrize("label", ["claude", "Claude", "bug", "claude-later"])
def test_an_assignment_or_label_that_routing_takes_is_never_ignored_early(kind: tuple[str, str], label: str) -> None:
    event, action = kind
    payload = example(event, action, **({"label__name": label} if action == "labeled" else {"assignee__login": label}))
    if isinstance(route(event, payload, RULES), Trigger):
        assert never_a_trigger(event, payload, RULES) is None
    else:
        assert never_a_trigger(event, payload, RULES) in (None, route(event, payload, RULES))


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("issue_comment", comment("Thanks, looks good to me.")),
        ("issue_comment", comment(None)),
        ("issues", example("issues", "labeled", label__name="bug")),
        ("issues", example("issues", "opened", issue__body="Plain words", issue__title="A title")),
        ("issues", {**example("issues", "opened"), "action": "closed"}),
        ("pull_request", example("pull_request", "opened")),
        ("push", {"ref": "refs/heads/main"}),
        ("pull_request_review", example("pull_request_review", "submitted")),  # an approval without a body
        ("pull_request_review", review("Looks good to me.")),
        ("pull_request_review", example("pull_request_review", "dismissed")),
        ("pull_request_review_comment", example("pull_request_review_comment", "created")),
        ("pull_request_review_comment", example("pull_request_review_comment", "edited")),
        ("pull_request", example("pull_request", "labeled", label__name="bug")),
        ("pull_request", example("pull_request", "synchronize")),
    ],
)
def test_what_is_certain_is_said_as_routing_says_it(event: str, payload: dict) -> None:
    ignored = never_a_trigger(event, payload, RULES)
    assert isinstance(ignored, Ignored)
    assert ignored == route(event, payload, RULES)


def test_a_bot_never_triggers_and_is_named() -> None:
    payload = example("issue_comment", "created", comment__body="@claude go", sender__login="ci[bot]")
    assert never_a_trigger("issue_comment", payload, RULES) == Ignored(reason="ci[bot] is a bot")
    typed = example("issue_comment", "created", comment__body="@claude go", sender__type="Bot")
    assert isinstance(never_a_trigger("issue_comment", typed, RULES), Ignored)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("issue_comment", comment("@claude please")),
        ("issues", example("issues", "labeled", label__name="Claude")),
        ("issues", example("issues", "opened", issue__body="x", issue__title="@claude do it")),
        ("issue_comment", {"action": "created", "issue": {}}),  # malformed: routing names what is missing
        ("issues", {"action": "opened", "issue": "x"}),
        ("pull_request_review", review("@claude please")),
        ("pull_request_review_comment", review_comment("@claude please")),
        ("pull_request", example("pull_request", "labeled", label__name="claude")),
        ("pull_request", example("pull_request", "assigned")),
        ("issues", example("issues", "assigned")),
        ("pull_request_review", {"action": "submitted", "review": "x"}),
    ],
)
def test_a_possible_trigger_or_a_malformed_one_goes_to_intake(event: str, payload: dict) -> None:
    assert never_a_trigger(event, payload, RULES) is None


def test_a_phrase_beyond_ascii_is_never_decided_early() -> None:
    rules = TriggerRules(phrase="@clöde")
    assert never_a_trigger("issue_comment", comment("nothing here"), rules) is None


def every_example() -> list[tuple[str, dict]]:
    return [(event, payload) for event, payloads in _examples().items() for payload in payloads]


@pytest.mark.parametrize("body", [*TRICKS, "plain words", "@claude please"])
def test_the_head_read_on_receipt_decides_as_the_whole_payload_would(body: str) -> None:
    """The webhook reads only the head of a body; every real payload gets the outcome its whole would get."""
    written = [(event, payload_with(body)) for event, payload_with in WRITTEN.items()]
    for event, payload in [*every_example(), *written]:
        raw = json.dumps(payload).encode()
        head = read_head(raw)
        if b"\\u0000" in raw:  # an escaped NUL anywhere: the full parse and its NUL check decide
            assert head is None, event
            continue
        assert head is not None, event
        assert outcome_now(event, head, RULES) == outcome_now(event, payload, RULES), event


@pytest.mark.parametrize("raw", [
    b'{"action": "created", "x": NaN}', b'{"action": "created", "x": [1,}', b'[1]', b'{"comment": "a string"}',
    b'{"sender": 3}', b'{"action": "created"} trailing',
])
def test_what_the_head_cannot_vouch_for_goes_to_the_full_parse(raw: bytes) -> None:
    assert read_head(raw) is None
