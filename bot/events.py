"""Webhook payloads → typed events with only the fields routing needs; anything malformed is Ignored, not raised."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.models import Ignored

# Issue numbers fit a 32-bit column; GitHub's other ids (comments, users, installations) need 64 bits.
IssueNumber = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
GitHubId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
FullName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")]


class Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(Part):
    login: Name
    id: GitHubId | None = None
    type: str = "User"


class RepositoryRef(Part):
    full_name: FullName
    clone_url: str = ""
    html_url: str = ""
    default_branch: str | None = None


class Issue(Part):
    number: IssueNumber
    title: str | None = ""
    body: str | None = None
    state: str = "open"
    pull_request: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Comment(Part):
    id: GitHubId
    body: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Label(Part):
    name: str


class Installation(Part):
    id: GitHubId


class IssueEvent(Part):
    """`issues` and `issue_comment` deliveries: the issue, its repository, who acted, and the comment or label."""

    action: str
    issue: Issue
    repository: RepositoryRef
    sender: Account
    comment: Comment | None = None
    label: Label | None = None
    installation: Installation | None = None


def parse_issue_event(payload: dict[str, Any]) -> IssueEvent | Ignored:
    """The typed event, or why the payload is not one (the first few problems, in one line)."""
    try:
        return IssueEvent.model_validate(payload)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()[:3]]
        return Ignored(reason=f"malformed payload: {'; '.join(problems)}")
