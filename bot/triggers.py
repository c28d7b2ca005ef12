"""Route a webhook event to a Trigger or Ignored(reason): a pure table of (event, action) → handler."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.models import Ignored, Trigger

Payload = dict[str, Any]


@dataclass(frozen=True)
class TriggerRules:
    """What wakes the bot on one repository."""

    phrase: str = "@claude"
    label: str = "claude"


Handler = Callable[[Payload, TriggerRules], "Trigger | Ignored"]


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The phrase as a whole word: `@claude` but not `@claude-bot`, `email@claude.ai` or `x@claudes`."""
    return re.compile(rf"(?<![\w@.+-]){re.escape(phrase)}(?![\w-]|\.\w)", re.IGNORECASE)


def request_after(phrase: str, text: str | None) -> str | None:
    """The text after the first whole-word phrase, or None if the phrase is absent."""
    match = phrase_pattern(phrase).search(text or "")
    if match is None:
        return None
    return (text or "")[match.end():].lstrip(" \t,:;.!?)").strip()


def _trigger(event: str, payload: Payload, request: str, comment: Payload | None = None) -> Trigger:
    issue, repo, sender = payload["issue"], payload["repository"], payload.get("sender") or {}
    moment = str((comment or issue).get("created_at" if comment else "updated_at") or "")
    return Trigger(
        event=event,
        action=str(payload.get("action", "")),
        repo_full_name=repo["full_name"],
        clone_url=repo.get("clone_url") or f"{repo.get('html_url', '')}.git",
        html_url=repo.get("html_url", ""),
        default_branch=repo.get("default_branch") or "main",
        issue_number=int(issue["number"]),
        is_pull_request="pull_request" in issue,
        issue_title=issue.get("title") or "",
        issue_body=issue.get("body") or "",
        request=request or "Resolve this issue.",
        actor=sender.get("login", ""),
        actor_id=int(sender.get("id") or 0),
        actor_type=sender.get("type") or "User",
        comment_id=int(comment["id"]) if comment else None,
        installation_id=(payload.get("installation") or {}).get("id"),
        trigger_key=_trigger_key(payload, comment, moment),
        occurred_at=_moment(moment),
    )


def _trigger_key(payload: Payload, comment: Payload | None, moment: str) -> str:
    """What the trigger is: a comment by its id; an issue event by issue, action, label and event time."""
    repo = str(payload["repository"]["full_name"]).lower()
    if comment is not None:
        return f"{repo}:comment:{int(comment['id'])}"
    label = str((payload.get("label") or {}).get("name", "")).lower()
    return f"{repo}#{int(payload['issue']['number'])}:{payload.get('action', '')}:{label}:{moment}"


def _moment(text: str) -> datetime | None:
    """GitHub's ISO 8601 time (`2019-05-15T15:20:21Z`); None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def on_issue_labeled(payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    label = (payload.get("label") or {}).get("name", "")
    if label.lower() != rules.label.lower():
        return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    issue = payload["issue"]
    request = request_after(rules.phrase, issue.get("body")) or ""
    return _trigger("issues", payload, request)


def on_issue_opened(payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    issue = payload["issue"]
    for text in (issue.get("body"), issue.get("title")):
        request = request_after(rules.phrase, text)
        if request is not None:
            return _trigger("issues", payload, request)
    return Ignored(reason=f"the issue does not mention {rules.phrase}")


def on_issue_comment_created(payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    comment = payload["comment"]
    request = request_after(rules.phrase, comment.get("body"))
    if request is None:
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    if "pull_request" in payload["issue"]:
        return Ignored(reason="comments on pull requests are not handled yet")
    return _trigger("issue_comment", payload, request, comment)


ROUTES: dict[tuple[str, str], Handler] = {
    ("issues", "labeled"): on_issue_labeled,
    ("issues", "opened"): on_issue_opened,
    ("issue_comment", "created"): on_issue_comment_created,
}


def route(event: str, payload: Payload, rules: TriggerRules) -> Trigger | Ignored:
    """The Trigger this delivery asks for, or why it asks for nothing."""
    action = str(payload.get("action", ""))
    handler = ROUTES.get((event, action))
    if handler is None:
        return Ignored(reason=f"{event}.{action} is not a trigger" if action else f"{event} is not a trigger")
    if payload.get("issue", {}).get("state") == "closed":
        return Ignored(reason="the issue is closed")
    return handler(payload, rules)
