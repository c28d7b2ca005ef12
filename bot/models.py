"""The nouns of the bot: triggers, repositories, work orders and their steps."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from bot.remotes import strip_userinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_work_order_id() -> str:
    return f"wo-{secrets.token_hex(4)}"


class Status(StrEnum):
    """Where a work order is in its life."""

    PENDING = "pending"  # admitted, waiting for a worker (or behind another on the same issue)
    RUNNING = "running"  # claimed by a worker that holds its lease
    COMPLETED = "completed"  # finished: a PR, or an answer when nothing changed
    FAILED = "failed"  # stopped with an error, reported on the issue
    CANCELLED = "cancelled"  # stopped on request before it finished

    @property
    def is_active(self) -> bool:
        return self in (Status.PENDING, Status.RUNNING)


class ReviewLocation(BaseModel):
    """Where on a pull request's diff a review comment sits: the file, the line(s), the side, and the hunk."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int | None = None
    start_line: int | None = None
    side: str | None = None  # "LEFT" (the base) or "RIGHT" (the head)
    # Code, not prose: only invisible characters are removed; it ends at the line commented on.
    diff_hunk: str = ""


class Trigger(BaseModel):
    """A GitHub event the bot should act on, reduced to what a work order needs."""

    model_config = ConfigDict(frozen=True)

    event: str
    action: str
    repo_full_name: str
    clone_url: str
    html_url: str = ""
    default_branch: str = "main"
    issue_number: int
    is_pull_request: bool = False
    issue_title: str = ""
    issue_body: str = ""
    request: str
    actor: str
    actor_id: int = 0
    actor_type: str = "User"
    comment_id: int | None = None
    installation_id: int | None = None
    # What the trigger is, whatever delivery carried it: a replayed body maps to the same key.
    trigger_key: str = ""
    # When it happened on GitHub (the comment's creation, the issue's last update), for the age window.
    occurred_at: datetime | None = None
    # What the comment is: "issue" (an issue's or PR's conversation), "review" (a review's body) or
    # "review_comment" (on a diff line); `comment_id` is that comment's or review's id.
    comment_kind: str = "issue"
    # A review comment's thread: its top-level comment, where the bot replies.
    thread_id: int | None = None
    review_location: ReviewLocation | None = None
    # Who an `assigned` event assigned; intake checks it is the bot's own login.
    assignee: str | None = None
    # The PR's branches as the payload named them: hints only, GitHub's answer decides.
    head_branch: str = ""
    base_branch: str = ""
    # A command instead of a request (bot/control.py: "stop", "retry", "unlabeled"): intake dispatches it,
    # no agent runs for it.
    command: str | None = None


class Ignored(BaseModel):
    """A delivery that is not a trigger, and why."""

    model_config = ConfigDict(frozen=True)

    reason: str


class Delivery(BaseModel):
    """A webhook delivery as recorded before it is acknowledged."""

    delivery_id: str
    event: str
    action: str = ""
    repo_full_name: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    outcome: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    # The body as received (the payload's JSON text): stored as is, so it is not serialised again.
    raw: str | None = Field(default=None, exclude=True, repr=False)

    def payload_json(self) -> str:
        return self.raw if self.raw is not None else json.dumps(self.payload)


class Repository(BaseModel):
    """A configured repository, with the seed's fields."""

    id: str = ""
    repository_url: str
    display_name: str | None = None
    owner: str | None = None
    default_branch: str | None = None
    is_verified: bool = False
    last_verified_at: datetime | None = None
    default_sandbox_type: str = "git_worktree"
    default_commands: list[str] = Field(default_factory=lambda: ["plan", "implement"])
    # Where the bot clones from: GitHub's answer when verified, else `<repository_url>.git`; never a request's.
    clone_url: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("repository_url", "clone_url")
    @classmethod
    def _no_userinfo(cls, value: str | None) -> str | None:
        return strip_userinfo(value) if value else value

    @model_validator(mode="after")
    def _derived_clone_url(self) -> Repository:
        if not self.clone_url:
            self.clone_url = f"{self.repository_url.rstrip('/').removesuffix('.git')}.git"
        return self

    @property
    def full_name(self) -> str:
        return full_name_of(self.repository_url)


class WorkOrder(BaseModel):
    """One request to the agent, from trigger to PR; the row is the truth the comment shows."""

    agent_work_order_id: str = Field(default_factory=new_work_order_id)
    repository_url: str
    sandbox_identifier: str = ""
    git_branch_name: str | None = None
    agent_session_id: str | None = None
    status: Status = Status.PENDING
    user_request: str = ""
    repo_full_name: str = ""
    issue_number: int | None = None
    trigger_actor: str | None = None
    trigger_comment_id: int | None = None
    delivery_id: str | None = None
    trigger_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    attempt: int = 0
    max_attempts: int = 3
    total_cost_usd: float = 0.0
    num_turns: int = 0
    progress_comment_id: int | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    report_pending: bool = False  # ended, but its final comment is not on GitHub yet (the outbox)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Not a column: the claim that returned this row took it over from this worker's expired lease (a crashed or
    # stalled worker's work picked up again); None for a pending row's claim and on every other read.
    _reclaimed_from: str | None = PrivateAttr(default=None)

    @field_validator("repository_url")
    @classmethod
    def _no_userinfo(cls, value: str) -> str:
        """Credentials in a URL are never stored, listed or shown."""
        return strip_userinfo(value)

    @property
    def id(self) -> str:
        return self.agent_work_order_id

    @property
    def short_id(self) -> str:
        return self.agent_work_order_id.removeprefix("wo-")[:8]

    @property
    def reclaimed_from(self) -> str | None:
        return self._reclaimed_from

    def claimed_from(self, previous_owner: str | None) -> WorkOrder:
        """This row as a claim returns it: taken over from `previous_owner`'s expired lease, or (None) not."""
        self._reclaimed_from = previous_owner
        return self


class Step(BaseModel):
    """One executed step of a work order, with the seed's fields plus cost and turns."""

    agent_work_order_id: str
    step: str
    agent_name: str
    success: bool
    output: str | None = None
    error_message: str | None = None
    duration_seconds: float = 0.0
    session_id: str | None = None
    executed_at: datetime = Field(default_factory=utcnow)
    step_order: int = 0
    cost_usd: float | None = None
    num_turns: int | None = None
    attempt: int = 1
    prompt: str | None = None  # what the agent was asked (agent steps), redacted and bounded (migration 013)


# Columns a caller may change with Store.update_work_order.
WORK_ORDER_MUTABLE = frozenset(WorkOrder.model_fields) - {"agent_work_order_id", "created_at"}


def full_name_of(repository_url: str) -> str:
    """`https://github.com/o/r(.git)` or `o/r` → `o/r`; a local path stays as it is."""
    url = repository_url.strip().rstrip("/").removesuffix(".git")
    for prefix in ("https://", "http://"):
        if url.startswith(prefix):
            parts = url[len(prefix):].split("/")
            return "/".join(parts[1:3]) if len(parts) >= 3 else url
    return url


class LogEntry(BaseModel):
    """One event of a work order's log: a status change, a step starting or ending, a tool use, an error.

    `id` is the store's (increasing across all work orders): a reader's cursor, given once the row is stored.
    """

    id: int = 0
    agent_work_order_id: str
    at: datetime = Field(default_factory=utcnow)
    level: str = "info"  # info, warning, error
    step: str | None = None  # plan, implement, … (None: the work order as a whole)
    kind: str = "note"  # status, step_started, tool_use, step_finished, error, note
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
