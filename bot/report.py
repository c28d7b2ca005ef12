"""The progress comment as a pure projection of the work order row, and secret redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import quote

from bot.models import Status, Step, WorkOrder, utcnow
from bot.secret_scan import without_secrets

MARKER = "<!-- agent-work-order:{id} -->"
PULL_REQUEST_MARKER = "<!-- agent-work-order:{id}:pull-request -->"
COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
SECRET_PATTERNS = (
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_-]{10,}"),
    re.compile(r"(?i)\b(authorization:\s*(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._-]+"),
    re.compile(r"(?i)(x-access-token:)[^@\s]+"),
    re.compile(r"(?i)(postgres(?:ql)?://[^:/\s]+:)[^@\s]+"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)
HEADLINES = {
    Status.PENDING: "⏳ Queued",
    Status.RUNNING: "🔄 Working",
    Status.COMPLETED: "✅ Done",
    Status.FAILED: "❌ Failed",
    Status.CANCELLED: "⏹️ Cancelled",
}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every known secret value (raw or encoded) and anything shaped like a credential."""
    secrets = tuple(secrets)
    text = without_secrets(text, secrets)
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


# A line the agent wrote that git or GitHub would read as a trailer: `Co-authored-by: ...`, `Signed-off-by: ...`,
# any `Key-With-Dashes: value`, or a one-word key git itself treats as a trailer.
TRAILER = re.compile(r"^[ \t>]*(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+|Cc|Fixes|Closes|Resolves|Refs|Link|Bug)[ \t]*:",
                     re.IGNORECASE)


def strip_trailers(text: str) -> str:
    """The agent's text without trailer-shaped lines: only the bot adds trailers (its own, after this text)."""
    return "\n".join(line for line in text.splitlines() if not TRAILER.match(line)).strip()


def marker(work_order_id: str) -> str:
    return MARKER.format(id=work_order_id)


def pull_request_marker(work_order_id: str) -> str:
    return PULL_REQUEST_MARKER.format(id=work_order_id)


def seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    return f"{minutes}m {rest:02d}s"


def elapsed(work_order: WorkOrder, now: datetime | None = None) -> float:
    if work_order.started_at is None:
        return 0.0
    end = work_order.completed_at or now or utcnow()
    return max(0.0, (end - work_order.started_at).total_seconds())


def money(value: float) -> str:
    """Cents once a run costs that much; below a cent, enough digits that the figure is not $0.00."""
    if value == 0 or value >= 0.01:
        return f"${value:.2f}"
    return f"${value:.4f}" if value >= 0.0001 else "< $0.0001"


def cap_of(work_order: WorkOrder) -> str:
    """` of $5.00` when the work order ran under a cap (bot/spend.py), so a reader sees how close it came."""
    cap = work_order.metadata.get("cost_cap_usd")
    return f" of ${cap:.2f}" if isinstance(cap, int | float) and not isinstance(cap, bool) and cap > 0 else ""


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def step_line(step: Step) -> str:
    box = "x" if step.success else " "
    mark = "" if step.success else " ❌"
    extra = [seconds(step.duration_seconds)]
    if step.cost_usd:
        extra.append(f"${step.cost_usd:.4f}")
    if step.num_turns:
        extra.append(plural(step.num_turns, "turn"))
    return f"- [{box}] **{step.step}**{mark} — {' · '.join(extra)}"


def changed_without_pr(work_order: WorkOrder) -> bool:
    """`awo run`: the change is on a local branch, and there is no pull request to show."""
    return work_order.metadata.get("outcome") == "branch" and bool(work_order.git_branch_name)


def headline(work_order: WorkOrder) -> str:
    title = HEADLINES[work_order.status]
    if work_order.status is Status.COMPLETED and not work_order.pr_url and not changed_without_pr(work_order):
        title = "✅ Done — no changes were needed"
    return f"### {title} · work order `{work_order.id}`"


def web_page(work_order: WorkOrder) -> str | None:
    """The repository's web page, which links hang off; None for a remote that is not one (a path, `awo run`)."""
    web = work_order.repository_url.rstrip("/").removesuffix(".git")
    return web if web.startswith(("https://", "http://")) else None


def commit_links(work_order: WorkOrder) -> str:
    """The commits this work order pushed, each linked on GitHub (plain ids for a remote that is not a web page)."""
    commits = [c for c in work_order.metadata.get("commits") or [] if isinstance(c, str) and COMMIT_ID.match(c)]
    web = web_page(work_order)
    return ", ".join(f"[`{c[:7]}`]({web}/commit/{c})" if web else f"`{c[:7]}`" for c in commits)


def summary_lines(work_order: WorkOrder, now: datetime | None) -> list[str]:
    lines = []
    commits = commit_links(work_order)
    if commits and work_order.git_branch_name:
        lines.append(f"**Pushed:** {commits} to `{work_order.git_branch_name}`")
    if work_order.git_branch_name and work_order.pr_url:
        lines.append(f"**Branch:** `{work_order.git_branch_name}` · **Pull request:** {work_order.pr_url}")
    kept_out = [str(p) for p in work_order.metadata.get("not_committed") or []]
    if kept_out:
        lines.append(f"**Not committed:** {', '.join(f'`{p[:200]}`' for p in kept_out[:20])} — on a pull request the "
                     "agent's instructions and settings are the base branch's, so its edits to them are left out")
    elif work_order.status is Status.COMPLETED and changed_without_pr(work_order):
        lines.append(f"**Branch:** `{work_order.git_branch_name}` holds the change")
    dropped = [str(p) for p in work_order.metadata.get("protected_dropped") or []]
    if dropped:  # the repository's protected_paths (bot/repo_config.py)
        lines.append(f"**Not committed:** {', '.join(f'`{p[:200]}`' for p in dropped[:20])} — protected by the "
                     "repository's `.github/agent-work-orders.yml`: the agent's changes to them were dropped")
    if work_order.status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED) or work_order.num_turns:
        lines.append(
            f"**Duration:** {seconds(elapsed(work_order, now))} · **Cost:** {money(work_order.total_cost_usd)}"
            f"{cap_of(work_order)}"
            f" · **Turns:** {work_order.num_turns}"
        )
    return lines


def error_block(message: str) -> str:
    """A multi-line error (git's stderr) keeps its lines in a fence; Markdown would run them together."""
    first, _, rest = message.strip().partition("\n")
    return f"**Error:** {first}" + (f"\n\n{fence(rest.strip())}" if rest.strip() else "")


def fence(text: str) -> str:
    """A code fence the text cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def page_of(public_url: str | None, work_order_id: str) -> str | None:
    """The work order's page on the bot (AWO_PUBLIC_URL + /work-orders/{id}); None when no public URL is set."""
    return f"{public_url.rstrip('/')}/work-orders/{quote(work_order_id, safe='')}" if public_url else None


def render_comment(
    work_order: WorkOrder,
    steps: Sequence[Step],
    *,
    running: str | None = None,
    answer: str | None = None,
    secrets: Iterable[str] = (),
    now: datetime | None = None,
    page: str | None = None,
) -> str:
    """The whole comment body for the work order's current state; `page` (page_of) is linked under the headline."""
    parts = [marker(work_order.id), headline(work_order)]
    if page:
        parts.append(f"[Follow this work order on the bot]({page})")
    if work_order.status is Status.PENDING:
        parts.append(f"Requested by @{work_order.trigger_actor}. Waiting for a worker…")
    checklist = [step_line(s) for s in steps]
    if running:
        checklist.append(f"- [ ] **{running}** — running…")
    if checklist:
        parts.append("\n".join(checklist))
    parts.extend(summary_lines(work_order, now))
    if work_order.error_message:
        parts.append(error_block(work_order.error_message))
    if answer:
        parts.append(f"<details open><summary>Agent's answer</summary>\n\n{answer.strip()}\n\n</details>")
    return redact("\n\n".join(parts), secrets)


def reports_on_pull_request(work_order: WorkOrder) -> bool:
    """A work order asked for on an issue that ended with a PR: the PR gets the run's report as well."""
    return (work_order.status is Status.COMPLETED and work_order.pr_number is not None
            and work_order.metadata.get("pull_request") is None and work_order.metadata.get("publish", True)
            and work_order.pr_number != work_order.issue_number)


def pull_request_report(work_order: WorkOrder, steps: Sequence[Step], *, secrets: Iterable[str] = ()) -> str:
    """The run's report on the PR it made: how the change was made, linked to the issue's comment."""
    web = web_page(work_order)
    issue = f"#{work_order.issue_number}"
    if work_order.progress_comment_id is not None and web:
        issue = f"[{issue}]({web}/issues/{work_order.issue_number}#issuecomment-{work_order.progress_comment_id})"
    parts = [pull_request_marker(work_order.id), f"### 🤖 How this change was made · work order `{work_order.id}`",
             f"Requested by @{work_order.trigger_actor} on {issue}.", "\n".join(step_line(s) for s in steps),
             *summary_lines(work_order, None)]
    return redact("\n\n".join(p for p in parts if p), secrets)
