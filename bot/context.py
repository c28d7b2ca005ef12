"""The pull request a follow-up continues, as a prompt section: its description, files, linked issue, conversation.

The reads happen here at the edge (concurrently); `compose` is pure. Every text in the section that a GitHub
user wrote is made visible-only and fenced; every line outside a fence is the bot's own. Nothing is cut
silently: whatever is left out (hidden, edited since the request, over the budget) is counted and noted.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime

from bot.conversation import (
    Selected,
    bounded,
    code_span,
    in_thread,
    is_bot_comment,
    render_item,
    select,
    within_budget,
)
from bot.errors import GitHubError
from bot.github import ChangedFile, GitHubPort, IssueInfo, NodeState, PullRequest, Remark
from bot.models import ReviewLocation
from bot.report import fence, plural
from bot.sanitize import one_line, visible

DEFAULT_BUDGET = 60_000
BODY_LIMIT = 10_000  # characters of the PR's or the linked issue's description
HUNK_LIMIT = 6_000
FILES_SHOWN = 300
LINKED = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class PullContext:
    """The section, and what went into it; `calls` counts GitHub requests (every page, every GraphQL query)."""

    text: str
    included: int = 0
    minimized: int = 0
    edited_left_out: int = 0
    over_budget: int = 0
    calls: int = 0
    after_request: int = 0


@dataclass(frozen=True)
class PullReads:
    """Everything read from GitHub for one PR, before any choice is made."""

    pull: PullRequest
    files: list[ChangedFile]
    remarks: list[Remark]
    states: dict[str, NodeState] = field(default_factory=dict)
    issue: IssueInfo | None = None
    issue_note: str = ""
    calls: int = 0


def linked_issue(body: str) -> int | None:
    """The first `closes|fixes|resolves #N` of the PR's description (same repository only)."""
    found = LINKED.search(visible(body))
    return int(found.group(1)) if found else None


def pages(count: int) -> int:
    """The requests a list of `count` items takes, 100 a page until a short (perhaps empty) page."""
    return count // 100 + 1


async def read_pull(
    github: GitHubPort, full_name: str, pr_number: int, pull_read: Awaitable[PullRequest] | None = None,
) -> PullReads:
    """Everything the context shows, read at once; `pull_read`: the PR itself being read already (one read serves
    the claim's check and the context)."""
    pull, files, comments, reviews, review_comments = await asyncio.gather(
        pull_read or github.get_pull_request(full_name, pr_number), github.list_pull_files(full_name, pr_number),
        github.list_issue_comments(full_name, pr_number), github.list_reviews(full_name, pr_number),
        github.list_review_comments(full_name, pr_number))
    remarks = [*comments, *reviews, *review_comments]
    ids = list(dict.fromkeys(r.node_id for r in remarks if r.node_id and not is_bot_comment(r)))
    states = await github.node_states(ids) if ids else {}
    calls = 1 + sum(pages(len(found)) for found in (files, comments, reviews, review_comments)) + -(-len(ids) // 100)
    number = linked_issue(pull.body)
    issue, note = None, ""
    if number is not None and number != pr_number:
        calls += 1
        try:
            issue = await github.get_issue(full_name, number)
        except GitHubError as exc:
            if exc.status not in (404, 410):
                raise
            note = f"(The issue it links, #{number}, could not be read: GitHub answered {exc.status}.)"
    return PullReads(pull, files, remarks, states, issue, note, calls)


async def pull_request_context(
    github: GitHubPort, full_name: str, pr_number: int, *, asked_at: datetime | None, thread_of: int | None,
    review_location: ReviewLocation | None, budget: int = DEFAULT_BUDGET,
    pull_read: Awaitable[PullRequest] | None = None,
) -> PullContext:
    """The prompt section for a request on PR `pr_number`, as the conversation read at `asked_at`."""
    reads = await read_pull(github, full_name, pr_number, pull_read)
    return compose(reads, asked_at=asked_at, thread_of=thread_of, review_location=review_location, budget=budget)


def _verb(count: int) -> str:
    return "was" if count == 1 else "were"


def _were(count: int, what: str) -> str:
    return f"{plural(count, what)} {_verb(count)}"


def pull_header(pull: PullRequest) -> str:
    branches = f"{code_span(pull.base or '?')} ← {code_span(pull.head)}"
    return "\n".join([
        f"Pull request #{pull.number} ({branches}). Its title:", fence(one_line(pull.title) or "(no title)"),
        "Its description:", bounded(pull.body or "(no description)", BODY_LIMIT)])


def files_section(files: list[ChangedFile]) -> str:
    lines = [f"{one_line(f.path, 500)} ({one_line(f.status, 20)}, +{f.additions} −{f.deletions})"
             + (f" (was {one_line(f.previous_path, 500)})" if f.previous_path else "") for f in files[:FILES_SHOWN]]
    more = f"\n(and {plural(len(files) - FILES_SHOWN, 'more file')})" if len(files) > FILES_SHOWN else ""
    return f"Files changed ({len(files)}):\n{fence(chr(10).join(lines) or '(none)')}{more}"


def issue_section(reads: PullReads) -> str:
    if reads.issue is None:
        return reads.issue_note
    issue = reads.issue
    return "\n".join([f"The issue it resolves, #{issue.number} ({one_line(issue.state, 20)}). Its title:",
                      fence(one_line(issue.title) or "(no title)"), "Its description:",
                      bounded(issue.body or "(no description)", BODY_LIMIT)])


def thread_section(
    thread: list[tuple[Remark, str]], location: ReviewLocation | None, budget: int,
) -> tuple[str, int, int]:
    """The review comment the request answers: where it is on the diff, the hunk, and its whole thread."""
    if location is None and thread:
        top = thread[0][0]
        location = ReviewLocation(path=top.path or "", line=top.line, side=top.side, diff_hunk=top.diff_hunk or "")
    if location is None:
        return "", 0, 0
    line = f" line {location.line}" if location.line is not None else ""
    side = f" ({one_line(location.side, 10)} side)" if location.side else ""
    kept, left, size = within_budget([render_item(r, t) for r, t in thread], budget)
    note = [f"({plural(left, 'earlier reply')} ({size} characters) {_verb(left)} left out: the thread's share "
            f"of the context budget is {budget} characters.)"] if left else []
    return "\n\n".join([
        f"The request was made on a review comment thread on {code_span(location.path)}{line}{side}. The diff hunk:",
        bounded(location.diff_hunk or "(no hunk)", HUNK_LIMIT), "The thread, oldest first:",
        *note, *(kept or ["(no comment of it can be shown)"])]), len(kept), left


def notes(selected: Selected) -> list[str]:
    found = []
    if selected.minimized:
        found.append(f"({_were(selected.minimized, 'hidden comment')} left out.)")
    if selected.edited_left_out:
        found.append(f"({_were(selected.edited_left_out, 'comment')} left out: edited after the request, and "
                     "the text it had when the request was made is unknown.)")
    if selected.after_request:
        found.append(f"({_were(selected.after_request, 'comment')} left out: written after the request.)")
    return found


def compose(
    reads: PullReads, *, asked_at: datetime | None, thread_of: int | None, review_location: ReviewLocation | None,
    budget: int = DEFAULT_BUDGET,
) -> PullContext:
    """The section: header, files, trigger thread and linked issue always; the conversation newest-first to fit."""
    selected = select(reads.remarks, reads.states, asked_at)
    thread = [(r, t) for r, t in selected.items if thread_of is not None and in_thread(r, thread_of)]
    rest = [(r, t) for r, t in selected.items if thread_of is None or not in_thread(r, thread_of)]
    trigger, in_trigger, thread_left = (thread_section(thread, review_location, budget // 3) if thread_of is not None
                                        else ("", 0, 0))
    fixed = [pull_header(reads.pull), files_section(reads.files), trigger, issue_section(reads)]
    head = "\n\n".join(part for part in fixed if part)
    left_notes = notes(selected)
    room = budget - len(head) - sum(len(n) + 2 for n in left_notes) - 300  # 300: the heading and budget note
    kept, left, size = within_budget([render_item(r, t) for r, t in rest], max(room, 0))
    if left:
        left_notes.append(f"({plural(left, 'earlier comment')} ({size} characters) {_verb(left)} left out: "
                          f"the context budget is {budget} characters.)")
    conversation = "\n\n".join(["The conversation, oldest first:", *left_notes, *(kept or ["(no comments)"])])
    return PullContext(
        text=f"{head}\n\n{conversation}", included=in_trigger + len(kept), minimized=selected.minimized,
        edited_left_out=selected.edited_left_out, over_budget=left + thread_left, calls=reads.calls,
        after_request=selected.after_request)
