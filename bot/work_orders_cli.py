"""`awo list` and `awo show ID`: the work orders as the REST API shows them (AWO_URL, AWO_API_TOKEN).

Every text printed is stripped of control and format characters: a request, an error or a title written on GitHub
must not move the cursor, retitle the terminal or reorder what is shown (escape sequences, bidi overrides).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.api_client import ApiClient
from bot.errors import BotError, NotFound
from bot.report import money, seconds
from bot.sanitize import without_invisible
from bot.settings import Settings
from bot.store import ID_SHAPE

COLUMNS = ("ID", "STATUS", "REPOSITORY", "ISSUE", "COST", "CREATED", "PULL REQUEST / BRANCH")


def plain(value: object, limit: int = 200) -> str:
    """One terminal-safe line: no control or format characters, whitespace runs as one space, bounded."""
    text = " ".join(without_invisible("" if value is None else str(value)).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def run_list(settings: Settings, args: argparse.Namespace) -> int:
    params = {"limit": args.limit, "status": args.status, "repository": args.repo}
    async with ApiClient(settings) as api:
        orders = await api.get("/", {k: v for k, v in params.items() if v is not None})
    if args.json:
        print(json.dumps(orders, indent=2))
    elif orders:
        print(table([row(o) for o in orders]))
    else:
        print("no work orders" + (" match" if args.status or args.repo else " yet"))
    return 0


def row(order: dict[str, Any]) -> tuple[str, ...]:
    issue = order.get("issue_number")
    return (plain(order.get("agent_work_order_id"), 40), plain(order.get("status"), 12),
            plain(order.get("repo_full_name") or order.get("repository_url"), 60), f"#{issue}" if issue else "-",
            money(float(order.get("total_cost_usd") or 0)), plain(order.get("created_at"), 19).replace("T", " "),
            plain(order.get("pr_url") or order.get("git_branch_name") or "-", 80))


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in [COLUMNS, *rows])


async def run_show(settings: Settings, args: argparse.Namespace) -> int:
    if not ID_SHAPE.match(args.id) or args.id.strip(".") == "":
        raise BotError(f"{plain(args.id, 80)!r} is not a work order id (wo-...)")
    async with ApiClient(settings) as api:
        try:
            order = await api.get(f"/{args.id}")
        except NotFound:
            raise NotFound(f"no work order {args.id} on {api.shown}") from None
        steps = (await api.get(f"/{args.id}/steps"))["steps"]
    if args.json:
        print(json.dumps({"work_order": order, "steps": steps}, indent=2))
    else:
        print("\n".join([*details(order), *step_lines(steps)]))
    return 0


def details(order: dict[str, Any]) -> list[str]:
    repo, issue = plain(order.get("repo_full_name"), 100), order.get("issue_number")
    lines = [f"{plain(order.get('agent_work_order_id'), 40)}  {plain(order.get('status'), 12)}  "
             f"{repo}{f'#{issue}' if issue else ''}"]
    fields = [("Request", plain(order.get("user_request"), 300)),
              ("Created", plain(order.get("created_at"), 40)), ("Started", plain(order.get("started_at"), 40)),
              ("Finished", plain(order.get("completed_at"), 40)),
              ("Cost", f"{money(float(order.get('total_cost_usd') or 0))} · {turns(int(order.get('num_turns') or 0))}"),
              ("Attempt", f"{order.get('attempt', 0)} of {order.get('max_attempts', '?')}"),
              ("Branch", plain(order.get("git_branch_name"), 200)), ("Pull request", plain(order.get("pr_url"), 300)),
              ("Issue", issue_link(order)), ("Error", plain(order.get("error_message"), 500))]
    return lines + [f"  {name + ':':<14}{value}" for name, value in fields if value and value != "None"]


def issue_link(order: dict[str, Any]) -> str:
    web, issue = str(order.get("repository_url") or ""), order.get("issue_number")
    if not issue or not web.startswith(("https://", "http://")):
        return ""
    return plain(f"{web.rstrip('/').removesuffix('.git')}/issues/{int(issue)}", 300)


def step_lines(steps: list[dict[str, Any]]) -> list[str]:
    if not steps:
        return ["  Steps:        none yet"]
    lines = ["  Steps:"]
    for step in steps:
        mark = "ok" if step.get("success") else "FAILED"
        extra = [seconds(float(step.get("duration_seconds") or 0))]
        if step.get("cost_usd"):
            extra.append(money(float(step["cost_usd"])))
        if step.get("num_turns"):
            extra.append(turns(int(step["num_turns"])))
        error = f" — {plain(step.get('error_message'), 200)}" if step.get("error_message") else ""
        lines.append(f"    {int(step.get('attempt') or 1)}.{int(step.get('step_order') or 0):<3}"
                     f"{plain(step.get('step'), 30):<14}{mark:<7}{' · '.join(extra)}{error}")
    return lines


def turns(count: int) -> str:
    return f"{count} turn" if count == 1 else f"{count} turns"
