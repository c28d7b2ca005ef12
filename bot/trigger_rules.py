"""What wakes the bot and what it is then asked: the phrase and label, the request text, an event's key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.sanitize import prose, visible

# What the bot is asked when the writer named it and said nothing more.
ISSUE_REQUEST = "Resolve this issue."
PULL_REQUEST_REQUEST = "Follow up on this pull request: address its review feedback."


@dataclass(frozen=True)
class TriggerRules:
    """What wakes the bot on one repository."""

    phrase: str = "@claude"
    label: str = "claude"
    # AWO_REPO_TRIGGERS: a repository may choose its own phrase and label (bot/repo_configs.py), which the
    # webhook's pre-filter cannot know: it then never rules on the phrase or label.
    repo_overrides: bool = False


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


def default_request(is_pull_request: bool) -> str:
    return PULL_REQUEST_REQUEST if is_pull_request else ISSUE_REQUEST


def event_key(repo: str, number: int, action: str, detail: str, moment: datetime | None) -> str:
    """An event with no comment of its own: its issue or PR, action, label or assignee, and event time."""
    when = moment.astimezone(UTC).isoformat() if moment else ""
    return f"{repo.lower()}#{number}:{action}:{detail.lower()}:{when}"


def origin(payload: Any) -> dict[str, Any]:
    """The Trigger fields every event gives alike: its repository, who acted, and the installation."""
    repo, sender = payload.repository, payload.sender
    return {
        "action": payload.action,
        "repo_full_name": repo.full_name,
        "clone_url": repo.clone_url or f"{repo.html_url}.git",
        "html_url": repo.html_url,
        "default_branch": repo.default_branch or "main",
        "actor": sender.login,
        "actor_id": sender.id or 0,
        "actor_type": sender.type or "User",
        "installation_id": payload.installation.id if payload.installation else None,
    }
