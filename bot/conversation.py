"""A PR's conversation as the model may read it: which items, in which text, under a header only the bot writes.

Every body is a GitHub user's text: it goes through `visible()` into its own fence, and the line naming its
author is written by the bot outside any fence, so no comment can pose as another author or as the bot.
Pure: the GitHub reads happen in bot/context.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.github_data import NodeState, Remark
from bot.report import fence
from bot.sanitize import one_line, visible

BOT_MARKER = "<!-- agent-work-order:"
ITEM_LIMIT = 8_000  # characters of one item's body; a longer one is cut, with a note saying so
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
WORD = re.compile(r"^[A-Z_]{1,40}$")


@dataclass(frozen=True)
class Selected:
    """The items to show (with the text to show for each) and what was left out, by reason."""

    items: list[tuple[Remark, str]]
    minimized: int = 0
    edited_left_out: int = 0
    after_request: int = 0


def is_bot_comment(remark: Remark) -> bool:
    return BOT_MARKER in remark.body


def shown_at_all(remark: Remark) -> bool:
    """A review is shown only if it says something and was submitted (a pending one is its author's draft)."""
    return remark.kind != "review" or (bool(remark.body.strip()) and remark.state != "PENDING")


def edited_since(remark: Remark, state: NodeState | None, asked_at: datetime) -> bool:
    """Any sign of an edit after the request (REST's updated_at, GraphQL's lastEditedAt or an edit's time)."""
    edit_times = [edited_at for edited_at, _ in state.edits] if state else []
    if state is not None and state.last_edited_at is not None:
        edit_times.append(state.last_edited_at)
    return remark.updated_at > asked_at or any(edited_at > asked_at for edited_at in edit_times)


def text_at(remark: Remark, state: NodeState | None, asked_at: datetime | None) -> str | None:
    """The body as it read at `asked_at`; None when it was edited since and that earlier text is unknown.

    An edit after the request could slip in instructions the person who asked never saw: never the newer text.
    """
    if asked_at is None:
        return remark.body
    if not edited_since(remark, state, asked_at):
        return remark.body
    earlier = [text for edited_at, text in (state.edits if state else []) if edited_at <= asked_at]
    return earlier[-1] if earlier else None


def select(remarks: list[Remark], states: dict[str, NodeState], asked_at: datetime | None) -> Selected:
    """The conversation in time order, without the bot's own comments, empty reviews, hidden or unknowable items."""
    items: list[tuple[Remark, str]] = []
    minimized = edited = later = 0
    for remark in sorted(remarks, key=lambda r: (r.created_at, r.id)):
        state = states.get(remark.node_id)
        if is_bot_comment(remark) or not shown_at_all(remark):
            continue
        if state is not None and state.minimized:
            minimized += 1
        elif asked_at is not None and remark.created_at > asked_at:
            later += 1
        elif (text := text_at(remark, state, asked_at)) is None:
            edited += 1
        else:
            items.append((remark, text))
    return Selected(items, minimized, edited, later)


def _login(remark: Remark) -> str:
    return f"@{remark.author}" if LOGIN.match(remark.author) else "(an unknown account)"


def _word(value: str | None, default: str) -> str:
    return value if value and WORD.match(value) else default


def code_span(text: str) -> str:
    """A path on the bot's own line: one line, no backticks, so it cannot end the span or start a new line."""
    return "`" + one_line(text, 500).replace("`", "'") + "`"


def header(remark: Remark) -> str:
    """The line naming the author, written by the bot from GitHub's fields (never from the body)."""
    who = f"{_login(remark)} ({_word(remark.author_association, 'NONE')})"
    day = remark.created_at.strftime("%Y-%m-%d %H:%M UTC")
    if remark.kind == "review":
        return f"{who} reviewed on {day}: {_word(remark.state, 'COMMENTED')}"
    if remark.kind == "review_comment":
        line = f" line {remark.line}" if remark.line is not None else ""
        return f"{who} on {code_span(remark.path or '')}{line}, {day}:"
    return f"{who} commented on {day}:"


def bounded(text: str, limit: int = ITEM_LIMIT) -> str:
    """Visible text in its own fence; a longer text is cut with a note outside the fence, never silently."""
    shown = visible(text)
    if len(shown) <= limit:
        return fence(shown or "(empty)")
    return f"{fence(shown[:limit])}\n({len(shown) - limit} more characters of it were left out)"


def render_item(remark: Remark, text: str) -> str:
    return f"{header(remark)}\n{bounded(text)}"


def in_thread(remark: Remark, top: int) -> bool:
    return remark.kind == "review_comment" and (remark.id == top or remark.in_reply_to_id == top)


def within_budget(rendered: list[str], budget: int) -> tuple[list[str], int, int]:
    """The newest items that fit in `budget` characters (kept in time order); and how many, and how much, did not."""
    kept: list[str] = []
    used = 0
    for index in range(len(rendered) - 1, -1, -1):
        size = len(rendered[index]) + 2
        if used + size > budget:
            left = rendered[: index + 1]
            return kept[::-1], len(left), sum(len(item) for item in left)
        kept.append(rendered[index])
        used += size
    return kept[::-1], 0, 0
