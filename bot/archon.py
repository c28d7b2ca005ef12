"""Archon's names for a work order's fields: a pure projection of the row, so Archon's UI and scripts can read ours.

Archon (coleam00/Archon, python/src/agent_work_orders/models.py: `AgentWorkOrder`, `GitProgressSnapshot`)
shows `github_issue_number` (a string), `github_pull_request_url`, `current_phase` ("planning", "completed" or
null), `git_commit_count`, `git_files_changed` and `sandbox_type`. Ours keep their own names beside these.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.models import Status, WorkOrder

# Archon's AgentWorkflowPhase has these two values only; its work orders start with none.
Phase = Literal["planning", "completed"]
SANDBOX_TYPES = ("git_branch", "git_worktree", "e2b", "dagger")  # Archon's SandboxType
DEFAULT_SANDBOX = "git_worktree"  # what our worker runs in: a git worktree of a shared mirror


def current_phase(work_order: WorkOrder) -> Phase | None:
    """Running is "planning" (Archon's only in-progress phase), completed is "completed"; a work order waiting,
    failed or cancelled is in no phase (Archon's null)."""
    if work_order.status is Status.COMPLETED:
        return "completed"
    return "planning" if work_order.status is Status.RUNNING else None


def sandbox_type(work_order: WorkOrder) -> str:
    """The type the API request named (kept in metadata); a trigger from GitHub runs in a git worktree."""
    named = work_order.metadata.get("sandbox_type")
    return named if isinstance(named, str) and named in SANDBOX_TYPES else DEFAULT_SANDBOX


def commit_count(work_order: WorkOrder) -> int:
    """The bot's commits pushed on the work branch by this work order (recorded at the push)."""
    commits = work_order.metadata.get("commits")
    return len(commits) if isinstance(commits, list) else 0


def files_changed(work_order: WorkOrder) -> int:
    """Files the work order's commit changed, added or deleted (recorded at the push)."""
    count = work_order.metadata.get("files_changed")
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0


def archon_fields(work_order: WorkOrder) -> dict[str, Any]:
    """Archon's fields for this work order, added beside ours in every work-order response."""
    issue = work_order.issue_number
    return {
        "github_issue_number": str(issue) if issue is not None else None,
        "github_pull_request_url": work_order.pr_url,
        "current_phase": current_phase(work_order),
        "git_commit_count": commit_count(work_order),
        "git_files_changed": files_changed(work_order),
        "sandbox_type": sandbox_type(work_order),
    }


def git_progress(work_order: WorkOrder) -> dict[str, Any]:
    """Archon's GitProgressSnapshot; its phase is never null (Archon answers "planning" before any phase)."""
    return {
        "agent_work_order_id": work_order.id,
        "current_phase": current_phase(work_order) or "planning",
        "git_commit_count": commit_count(work_order),
        "git_files_changed": files_changed(work_order),
        "latest_commit_message": None,  # not stored (Archon answers null too); the commit ids are in `metadata`
        "git_branch_name": work_order.git_branch_name,
    }
