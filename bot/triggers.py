"""Route a webhook event to a Trigger or Ignored(reason): a pure table of (event, action) → handler.

Every text taken from the payload is made visible-only (bot.sanitize) here, so what a work order stores is
the safe text as it was when the trigger arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.control import UNLABELED, command_in
from bot.events import Comment, IssueEvent, parse_issue_event
from bot.models import Ignored, Trigger
from bot.pull_triggers import NO_ASSIGNEE, PULL_ROUTES, route_pull_request
from bot.sanitize import one_line, visible, without_invisible
from bot.trigger_rules import TriggerRules, default_request, event_key, origin, phrase_pattern, request_after

__all__ = ["ROUTES", "TriggerRules", "never_a_trigger", "phrase_pattern", "request_after", "route"]

Payload = dict[str, Any]
Handler = Callable[[IssueEvent, TriggerRules], "Trigger | Ignored"]


def _trigger(event: str, payload: IssueEvent, request: str, comment: Comment | None = None) -> Trigger:
    issue = payload.issue
    is_pull_request = issue.pull_request is not None
    return Trigger(
        event=event,
        **origin(payload),
        issue_number=issue.number,
        is_pull_request=is_pull_request,
        issue_title=one_line(issue.title),
        issue_body=visible(issue.body),
        request=request or default_request(is_pull_request),
        comment_id=comment.id if comment else None,
        trigger_key=_trigger_key(payload, comment),
        occurred_at=comment.created_at if comment else issue.updated_at,
        assignee=payload.assignee.login if payload.assignee else None,
    )


def _trigger_key(payload: IssueEvent, comment: Comment | None) -> str:
    """What the trigger is: a comment by its id; an issue event by issue, action, label or assignee and time."""
    repo = payload.repository.full_name.lower()
    if comment is not None:
        return f"{repo}:comment:{comment.id}"
    detail = payload.assignee.login if payload.assignee else payload.label.name if payload.label else ""
    return event_key(repo, payload.issue.number, payload.action, detail, payload.issue.updated_at)


def on_issue_labeled(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    label = payload.label.name if payload.label else ""
    if label.lower() != rules.label.lower():
        return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    request = request_after(rules.phrase, payload.issue.body) or ""
    return _trigger("issues", payload, request)


def on_issue_unlabeled(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    """The trigger label removed: a command to cancel what waits on the issue, not a request."""
    routed = on_issue_labeled(payload, rules)
    return routed.model_copy(update={"command": UNLABELED}) if isinstance(routed, Trigger) else routed


def on_issue_opened(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    issue = payload.issue
    for text in (issue.body, issue.title):
        request = request_after(rules.phrase, text)
        if request is not None:
            return _trigger("issues", payload, request)
    return Ignored(reason=f"the issue does not mention {rules.phrase}")


def on_issue_assigned(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    """Whether the assignee is the bot itself is intake's to check: it takes asking GitHub who the bot is."""
    if payload.assignee is None:
        return Ignored(reason=NO_ASSIGNEE)
    request = request_after(rules.phrase, payload.issue.body) or ""
    return _trigger("issues", payload, request)


def on_issue_comment_created(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    comment = payload.comment
    if comment is None:
        return Ignored(reason="malformed payload: comment: Field required")
    request = request_after(rules.phrase, comment.body)
    if request is None:
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    return _trigger("issue_comment", payload, request, comment)


ISSUE_ROUTES: dict[tuple[str, str], Handler] = {
    ("issues", "labeled"): on_issue_labeled,
    ("issues", "unlabeled"): on_issue_unlabeled,
    ("issues", "assigned"): on_issue_assigned,
    ("issues", "opened"): on_issue_opened,
    ("issue_comment", "created"): on_issue_comment_created,
}
ROUTES = frozenset(ISSUE_ROUTES) | frozenset(PULL_ROUTES)


def not_routed(event: str, action: str) -> Ignored:
    """Both are the sender's text: shown bounded and without invisible characters."""
    event, action = without_invisible(event)[:100], without_invisible(action)[:100]
    return Ignored(reason=f"{event}.{action} is not a trigger" if action else f"{event} is not a trigger")


def route(event: str, payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    """The Trigger this delivery asks for, or why it asks for nothing; never raises on what GitHub sent."""
    action = payload.get("action")
    action = action if isinstance(action, str) else ""
    if (event, action) in PULL_ROUTES:
        return with_command(route_pull_request(PULL_ROUTES[(event, action)], payload, rules))
    handler = ISSUE_ROUTES.get((event, action))
    if handler is None:
        return not_routed(event, action)
    parsed = parse_issue_event(payload)
    if isinstance(parsed, Ignored):
        return parsed
    if parsed.issue.state == "closed":
        return Ignored(reason="the issue is closed")
    return with_command(handler(parsed, rules))


def with_command(routed: Trigger | Ignored) -> Trigger | Ignored:
    """A comment whose request starts with a command word (`@claude stop`) is that command, not a request."""
    if not isinstance(routed, Trigger) or routed.comment_id is None or routed.command is not None:
        return routed
    command = command_in(routed.request)
    return routed.model_copy(update={"command": command}) if command else routed


# Text in which no sanitising step (entities, tags, NFKC, invisible characters) can make a phrase appear.
PLAIN = re.compile(r"[\x20-\x25\x27-\x3b\x3d-\x7e\t\n\r]*")


def _cannot_mention(phrase: str, part: Any, *keys: str) -> bool:
    """True only if none of these texts of the part can hold the phrase once sanitised: each is plain ASCII
    without it (case-insensitively) or absent. A part that is not an object is left to `route` to name."""
    if not isinstance(part, dict) or not phrase.isascii():
        return False
    wanted = phrase.lower()
    texts = [part.get(key) for key in keys]
    return all(t is None or (isinstance(t, str) and PLAIN.fullmatch(t) and wanted not in t.lower()) for t in texts)


def _get(payload: Payload, *path: str) -> Any:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def never_a_trigger(event: str, payload: Payload, rules: TriggerRules) -> Ignored | None:
    """A cheap, certain Ignored for what can never trigger (or None: maybe a trigger, for `route` to decide).

    Run before the delivery is recorded, so most deliveries are stored with their outcome and never reach
    intake. It may say None where `route` ignores; it never says Ignored where `route` could find a trigger.
    """
    action = payload.get("action")
    action = action if isinstance(action, str) else ""
    if (event, action) not in ROUTES:
        return not_routed(event, action)
    login, kind = _get(payload, "sender", "login"), _get(payload, "sender", "type")
    if isinstance(login, str) and (kind == "Bot" or login.lower().endswith("[bot]")):
        return Ignored(reason=f"{without_invisible(login)[:100]} is a bot")
    if rules.repo_overrides:
        return None
    if action in ("labeled", "unlabeled"):
        label = _get(payload, "label", "name")
        if isinstance(label, str) and label.lower() != rules.label.lower():
            return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    elif action == "opened" and _cannot_mention(rules.phrase, payload.get("issue"), "body", "title"):
        return Ignored(reason=f"the issue does not mention {rules.phrase}")
    elif action == "created" and _cannot_mention(rules.phrase, payload.get("comment"), "body"):
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    elif action == "submitted" and _cannot_mention(rules.phrase, payload.get("review"), "body"):
        return Ignored(reason=f"the review does not mention {rules.phrase}")
    return None
