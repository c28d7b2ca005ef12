"""Route a webhook event to a Trigger or Ignored(reason): a pure table of (event, action) → handler.

Every text taken from the payload is made visible-only (bot.sanitize) here, so what a work order stores is
the safe text as it was when the trigger arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.events import Comment, IssueEvent, parse_issue_event
from bot.models import Ignored, Trigger
from bot.sanitize import one_line, prose, visible, without_invisible

Payload = dict[str, Any]


@dataclass(frozen=True)
class TriggerRules:
    """What wakes the bot on one repository."""

    phrase: str = "@claude"
    label: str = "claude"


Handler = Callable[[IssueEvent, TriggerRules], "Trigger | Ignored"]


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase as a whole word: `@claude` but not `@claude-bot`, `email@claude.ai` or `x@claudes`."""
    return re.compile(rf"(?<![\w@.+-]){re.escape(phrase)}(?![\w-]|\.\w)", re.IGNORECASE)


def request_after(phrase: str, text: str | None) -> str | None:
    """The visible text after the first phrase a writer wrote themselves (not quoted, not code), or None."""
    shown = visible(text)
    match = phrase_pattern(phrase).search(prose(shown))
    if match is None:
        return None
    return shown[match.end():].lstrip(" \t,:;.!?)").strip()


def _trigger(event: str, payload: IssueEvent, request: str, comment: Comment | None = None) -> Trigger:
    issue, repo, sender = payload.issue, payload.repository, payload.sender
    moment = comment.created_at if comment else issue.updated_at
    return Trigger(
        event=event,
        action=payload.action,
        repo_full_name=repo.full_name,
        clone_url=repo.clone_url or f"{repo.html_url}.git",
        html_url=repo.html_url,
        default_branch=repo.default_branch or "main",
        issue_number=issue.number,
        is_pull_request=issue.pull_request is not None,
        issue_title=one_line(issue.title),
        issue_body=visible(issue.body),
        request=request or "Resolve this issue.",
        actor=sender.login,
        actor_id=sender.id or 0,
        actor_type=sender.type or "User",
        comment_id=comment.id if comment else None,
        installation_id=payload.installation.id if payload.installation else None,
        trigger_key=_trigger_key(payload, comment, moment),
        occurred_at=_utc(moment),
    )


def _trigger_key(payload: IssueEvent, comment: Comment | None, moment: datetime | None) -> str:
    """What the trigger is: a comment by its id; an issue event by issue, action, label and event time."""
    repo = payload.repository.full_name.lower()
    if comment is not None:
        return f"{repo}:comment:{comment.id}"
    label = (payload.label.name if payload.label else "").lower()
    when = moment.astimezone(UTC).isoformat() if moment else ""
    return f"{repo}#{payload.issue.number}:{payload.action}:{label}:{when}"


def _utc(moment: datetime | None) -> datetime | None:
    """GitHub's times are UTC; a naive one is read as such."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def on_issue_labeled(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    label = payload.label.name if payload.label else ""
    if label.lower() != rules.label.lower():
        return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    request = request_after(rules.phrase, payload.issue.body) or ""
    return _trigger("issues", payload, request)


def on_issue_opened(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    issue = payload.issue
    for text in (issue.body, issue.title):
        request = request_after(rules.phrase, text)
        if request is not None:
            return _trigger("issues", payload, request)
    return Ignored(reason=f"the issue does not mention {rules.phrase}")


def on_issue_comment_created(payload: IssueEvent, rules: TriggerRules) -> Trigger | Ignored:
    comment = payload.comment
    if comment is None:
        return Ignored(reason="malformed payload: comment: Field required")
    request = request_after(rules.phrase, comment.body)
    if request is None:
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    return _trigger("issue_comment", payload, request, comment)


ROUTES: dict[tuple[str, str], Handler] = {
    ("issues", "labeled"): on_issue_labeled,
    ("issues", "opened"): on_issue_opened,
    ("issue_comment", "created"): on_issue_comment_created,
}


def not_routed(event: str, action: str) -> Ignored:
    """Both are the sender's text: shown bounded and without invisible characters."""
    event, action = without_invisible(event)[:100], without_invisible(action)[:100]
    return Ignored(reason=f"{event}.{action} is not a trigger" if action else f"{event} is not a trigger")


def route(event: str, payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    """The Trigger this delivery asks for, or why it asks for nothing; never raises on what GitHub sent."""
    action = payload.get("action")
    action = action if isinstance(action, str) else ""
    handler = ROUTES.get((event, action))
    if handler is None:
        return not_routed(event, action)
    parsed = parse_issue_event(payload)
    if isinstance(parsed, Ignored):
        return parsed
    if parsed.issue.state == "closed":
        return Ignored(reason="the issue is closed")
    return handler(parsed, rules)


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
    if action == "labeled":
        label = _get(payload, "label", "name")
        if isinstance(label, str) and label.lower() != rules.label.lower():
            return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    elif action == "opened" and _cannot_mention(rules.phrase, payload.get("issue"), "body", "title"):
        return Ignored(reason=f"the issue does not mention {rules.phrase}")
    elif action == "created" and _cannot_mention(rules.phrase, payload.get("comment"), "body"):
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    return None
