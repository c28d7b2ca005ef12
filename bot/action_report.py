"""What `awo action` writes back to the runner: the step's outputs (GITHUB_OUTPUT) and a Markdown step summary.

Every value is treated as untrusted (an issue's title, the model's output, an error message): an output is always
written in the runner's `name<<DELIMITER` form with a delimiter no value contains, so no value can end its own
output and start another; a summary cell is one line with HTML and Markdown escaped, so no value can close the
table, open a tag or make a link of its own.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlparse

from bot.models import Status, Step, WorkOrder
from bot.report import money, seconds

OUTPUT_NAMES = ("work_order_id", "status", "branch", "pr_url", "cost_usd", "num_turns", "session_id")
MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~^$-])")
CELL_LIMIT = 300
ICONS = {Status.COMPLETED: "✅", Status.FAILED: "❌", Status.CANCELLED: "⏹️"}


def outputs_of(work_order: WorkOrder | None, status: str) -> dict[str, str]:
    """The action's outputs: a skipped event has only its status; the others are empty then."""
    if work_order is None:
        return {name: status if name == "status" else "" for name in OUTPUT_NAMES}
    return {
        "work_order_id": work_order.id, "status": status, "branch": work_order.git_branch_name or "",
        "pr_url": work_order.pr_url or "", "cost_usd": f"{work_order.total_cost_usd:.4f}",
        "num_turns": str(work_order.num_turns), "session_id": work_order.agent_session_id or "",
    }


def output_text(values: Mapping[str, str]) -> str:
    """The lines to append to GITHUB_OUTPUT: every value in the heredoc form, with one fresh random delimiter."""
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if not any(delimiter in value for value in values.values()):
            break
    return "".join(f"{name}<<{delimiter}\n{value}\n{delimiter}\n" for name, value in values.items())


def cell(text: object, limit: int = CELL_LIMIT) -> str:
    """Untrusted text as one inert line of Markdown: no HTML, no link, no emphasis, no table break."""
    line = " ".join(str(text).split())
    line = line if len(line) <= limit else line[: limit - 1] + "…"
    return MARKDOWN.sub(r"\\\1", html.escape(line, quote=True))


def link(text: object, url: str | None) -> str:
    """A Markdown link to an http(s) URL, every character that could end it percent-encoded; else the text."""
    if not url or urlparse(url).scheme not in ("http", "https"):
        return cell(text)
    return f"[{cell(text)}]({quote(url, safe=':/?#=&%@+,;~._-')})"


def skipped_summary(reason: str) -> str:
    return f"### Agent Work Orders: skipped\n\nNothing ran: {cell(reason, 1000)}\n"


def failed_summary(reason: str) -> str:
    return f"### Agent Work Orders: ❌ failed\n\n{cell(reason, 1000)}\n"


def summary(work_order: WorkOrder, steps: Sequence[Step], web: str) -> str:
    """The step summary of a finished work order: what it is, where its results are, and each step."""
    icon = ICONS.get(work_order.status, "")
    lines = [f"### Agent Work Orders: {icon} {cell(work_order.status)}", "", "| | |", "|---|---|",
             f"| work order | {cell(work_order.id)} |"]
    repo = work_order.repo_full_name
    number = work_order.issue_number
    if number is not None:
        lines.append(f"| issue | {link(f'{repo}#{number}', f'{web}/{repo}/issues/{number}')} |")
    title = work_order.metadata.get("issue_title") or work_order.user_request
    lines.append(f"| request | {cell(title, 200)} |")
    if work_order.pr_url:
        lines.append(f"| pull request | {link(work_order.pr_url, work_order.pr_url)} |")
    if work_order.git_branch_name:
        branch = work_order.git_branch_name
        lines.append(f"| branch | {link(branch, f'{web}/{repo}/tree/{branch}')} |")
    lines += [f"| cost | {money(work_order.total_cost_usd)} |", f"| turns | {work_order.num_turns} |"]
    if work_order.error_message:
        lines.append(f"| error | {cell(work_order.error_message, 1000)} |")
    return "\n".join([*lines, "", *step_table(steps), ""])


def step_table(steps: Sequence[Step]) -> list[str]:
    if not steps:
        return []
    rows = ["| step | result | time | cost | turns |", "|---|---|---|---|---|"]
    for step in steps:
        cost = money(step.cost_usd) if step.cost_usd is not None else ""
        turns = str(step.num_turns) if step.num_turns is not None else ""
        result = "✅" if step.success else f"❌ {cell(step.error_message or 'failed', 200)}"
        rows.append(f"| {cell(step.step)} | {result} | {seconds(step.duration_seconds)} | {cost} | {turns} |")
    return rows
