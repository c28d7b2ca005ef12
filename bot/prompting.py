"""Prompt templates (bot/prompts/*.md), filled with the issue's text fenced as untrusted input."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from bot.models import WorkOrder
from bot.report import fence


@cache
def template(name: str) -> Template:
    return Template(resources.files("bot").joinpath("prompts", name).read_text())


def render(name: str, work_order: WorkOrder, plan: str = "") -> str:
    meta = work_order.metadata
    return template(name).safe_substitute(
        repo=work_order.repo_full_name or work_order.repository_url,
        issue_number=work_order.issue_number or "-",
        issue_title=str(meta.get("issue_title", "")).replace("\n", " ")[:300],
        issue_body=fence(str(meta.get("issue_body", "")) or "(no description)"),
        request=fence(work_order.user_request or "Resolve this issue."),
        plan=fence(plan or "(no separate plan: work from the request)"),
    )
