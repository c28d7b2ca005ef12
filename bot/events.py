"""Webhook payloads → typed events with only the fields routing needs; anything malformed is Ignored, not raised."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bot.models import Ignored

# Issue numbers fit a 32-bit column; GitHub's other ids (comments, users, installations) need 64 bits.
IssueNumber = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
GitHubId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
LineNumber = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
# GitHub's times are UTC; a naive one is read as such.
Moment = Annotated[datetime, AfterValidator(lambda m: m if m.tzinfo else m.replace(tzinfo=UTC))]
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
    created_at: Moment | None = None
    updated_at: Moment | None = None


class Comment(Part):
    id: GitHubId
    body: str | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None


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
    assignee: Account | None = None
    installation: Installation | None = None


class BranchRepo(Part):
    full_name: str = ""


class Branch(Part):
    """One end of a pull request; a fork's deleted repository comes as null."""

    ref: str = ""
    repo: BranchRepo | None = None


class PullRequest(Part):
    number: IssueNumber
    title: str | None = ""
    body: str | None = None
    state: str = "open"
    head: Branch | None = None
    base: Branch | None = None
    updated_at: Moment | None = None


class ReviewComment(Comment):
    """A comment on a line of a pull request's diff; a reply names its thread's first comment."""

    node_id: str | None = None
    path: str | None = None
    line: LineNumber | None = None
    original_line: LineNumber | None = None
    start_line: LineNumber | None = None
    side: str | None = None
    diff_hunk: str | None = None
    in_reply_to_id: GitHubId | None = None


class Review(Part):
    id: GitHubId
    node_id: str | None = None
    body: str | None = None
    state: str | None = None
    submitted_at: Moment | None = None


class PullRequestEvent(Part):
    """`pull_request`, `pull_request_review` and `pull_request_review_comment` deliveries."""

    action: str
    pull_request: PullRequest
    repository: RepositoryRef
    sender: Account
    comment: ReviewComment | None = None
    review: Review | None = None
    label: Label | None = None
    assignee: Account | None = None
    installation: Installation | None = None


Event = TypeVar("Event", IssueEvent, PullRequestEvent)


def parse_event(kind: type[Event], payload: dict[str, Any]) -> Event | Ignored:
    """The typed event, or why the payload is not one (the first few problems, in one line)."""
    try:
        return kind.model_validate(payload)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()[:3]]
        return Ignored(reason=f"malformed payload: {'; '.join(problems)}")


def parse_issue_event(payload: dict[str, Any]) -> IssueEvent | Ignored:
    return parse_event(IssueEvent, payload)


def parse_pull_request_event(payload: dict[str, Any]) -> PullRequestEvent | Ignored:
    return parse_event(PullRequestEvent, payload)
