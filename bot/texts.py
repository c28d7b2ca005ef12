"""What the bot writes in git and on GitHub for a work order: branch name, commit message, PR title and body,
a step's output with its tool log (the worktree's path taken out), and a step's prompt as stored."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.models import WorkOrder
from bot.report import redact, strip_trailers

TOOL_LOG = "\n\n--- tool log ---\n"
PROMPT_LIMIT = 32_000  # characters of a step's prompt that are stored (a pull request's context can be 60,000)


def stored_prompt(prompt: str, secrets: Iterable[str]) -> str:
    """What the steps API and the dashboard show of a prompt: redacted as the report is, then (so no secret is cut
    in two and missed) cut to at most PROMPT_LIMIT characters, ending with a line that says how much was left out."""
    text = redact(prompt, secrets)
    if len(text) <= PROMPT_LIMIT:
        return text
    kept = PROMPT_LIMIT - 100  # room for the note
    return f"{text[:kept]}\n\n[{len(text) - kept:,} more characters of the prompt were not stored]"


def within(worktree: Path, tool_use: str) -> str:
    """A tool log line with the worktree's path taken out: the comment never shows the server's folders."""
    for root in dict.fromkeys((str(worktree.resolve()), str(worktree))):
        tool_use = tool_use.replace(f"{root}/", "").replace(root, ".")
    return tool_use


def with_tool_log(answer: str, tool_uses: list[str]) -> str:
    """A step's output: the agent's answer, then one line per tool it used."""
    return f"{answer}{TOOL_LOG}{chr(10).join(tool_uses)}" if tool_uses else answer


def branch_name(work_order: WorkOrder) -> str:
    if work_order.git_branch_name:
        return work_order.git_branch_name
    config = work_order.metadata.get("config")  # a repository's branch_prefix, checked to start with claude/
    prefix = str(config.get("branch_prefix") or "claude/") if isinstance(config, dict) else "claude/"
    if work_order.issue_number:
        return f"{prefix}issue-{work_order.issue_number}-{work_order.short_id}"
    return f"{prefix}{work_order.id}"


def title_of(work_order: WorkOrder) -> str:
    title = str(work_order.metadata.get("issue_title") or "").strip()
    return title or (work_order.user_request.strip().splitlines() or ["Changes by Claude"])[0][:72]


def co_author(work_order: WorkOrder) -> str:
    login = work_order.trigger_actor
    if not login:
        return ""
    actor_id = work_order.metadata.get("actor_id")
    email = f"{actor_id}+{login}@users.noreply.github.com" if actor_id else f"{login}@users.noreply.github.com"
    return f"\n\nCo-authored-by: {login} <{email}>"


def commit_message(work_order: WorkOrder, summary: str) -> str:
    subject = title_of(work_order)
    if work_order.issue_number:
        subject = f"{subject} (#{work_order.issue_number})"
    body = strip_trailers(summary)[:2000]
    return f"{subject}\n\n{body}\n\nWork order: {work_order.id}{co_author(work_order)}".replace("\n\n\n", "\n\n")


def pr_body(work_order: WorkOrder, summary: str) -> str:
    lines = [strip_trailers(summary) or "Changes made by Claude for this issue."]
    if work_order.issue_number:
        lines.append(f"Closes #{work_order.issue_number}")
    requester = f" · requested by @{work_order.trigger_actor}" if work_order.trigger_actor else ""
    lines.append(f"---\n_Work order `{work_order.id}`{requester}. Made by Claude Code through Agent Work Orders._")
    return "\n\n".join(lines)
