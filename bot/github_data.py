"""What the GitHubPort answers with, and how GitHub's JSON becomes it (pure: no githubkit, no I/O)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    owner: str
    name: str
    default_branch: str
    clone_url: str
    html_url: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str
    head: str
    draft: bool = False
    head_repo: str = ""  # the head branch's repository (a fork's, for a PR from a fork; "" if it was deleted)
    state: str = "open"
    base: str = ""
    title: str = ""
    body: str = ""
    head_sha: str = ""
    maintainer_can_modify: bool = False


@dataclass(frozen=True)
class IssueInfo:
    number: int
    title: str
    body: str
    state: str = "open"


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str
    additions: int = 0
    deletions: int = 0
    previous_path: str | None = None


@dataclass(frozen=True)
class Remark:
    """One item of a PR's conversation: an issue comment, a review, or a review comment (on a diff line)."""

    kind: str  # "comment" | "review" | "review_comment"
    id: int
    node_id: str
    author: str
    author_association: str
    body: str
    created_at: datetime
    updated_at: datetime
    path: str | None = None
    line: int | None = None
    side: str | None = None
    diff_hunk: str | None = None
    in_reply_to_id: int | None = None
    state: str | None = None  # a review's: APPROVED, CHANGES_REQUESTED, COMMENTED, ...


@dataclass(frozen=True)
class NodeState:
    """What only GraphQL tells: whether a maintainer hid the item, and its earlier revisions."""

    minimized: bool = False
    edits: list[tuple[datetime, str]] = field(default_factory=list)  # (editedAt, full text of that revision)
    last_edited_at: datetime | None = None


def when(value: object) -> datetime:
    """GitHub's ISO 8601 time; a missing one (a pending review) is the epoch, never "now"."""
    if not isinstance(value, str) or not value:
        return EPOCH
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pull_of(data: dict[str, Any]) -> PullRequest:
    head_repo = data["head"].get("repo")
    base = data.get("base")
    return PullRequest(
        number=int(data["number"]), html_url=str(data["html_url"]),
        head=str(data["head"]["ref"]), draft=bool(data.get("draft", False)),
        head_repo=str(head_repo.get("full_name") or "") if isinstance(head_repo, dict) else "",
        state=str(data.get("state") or "open"),
        base=str(base.get("ref") or "") if isinstance(base, dict) else "",
        title=str(data.get("title") or ""), body=str(data.get("body") or ""),
        head_sha=str(data["head"].get("sha") or ""),
        maintainer_can_modify=bool(data.get("maintainer_can_modify", False)),
    )


def issue_of(data: dict[str, Any]) -> IssueInfo:
    return IssueInfo(int(data["number"]), str(data.get("title") or ""), str(data.get("body") or ""),
                     str(data.get("state") or "open"))


def changed_file_of(data: dict[str, Any]) -> ChangedFile:
    previous = data.get("previous_filename")
    return ChangedFile(str(data["filename"]), str(data.get("status") or "modified"), int(data.get("additions") or 0),
                       int(data.get("deletions") or 0), str(previous) if previous else None)


def remark_of(kind: str, data: dict[str, Any]) -> Remark:
    """An issue comment, review or review comment; a review's time is when it was submitted."""
    user = data.get("user")
    created = when(data.get("submitted_at") if kind == "review" else data.get("created_at"))
    line = _int_or_none(data.get("line"))
    return Remark(
        kind=kind, id=int(data["id"]), node_id=str(data.get("node_id") or ""),
        author=str(user.get("login") or "") if isinstance(user, dict) else "",
        author_association=str(data.get("author_association") or "NONE"), body=str(data.get("body") or ""),
        created_at=created, updated_at=when(data.get("updated_at")) if "updated_at" in data else created,
        path=data.get("path") if kind == "review_comment" else None,
        line=line if line is not None else _int_or_none(data.get("original_line")),
        side=data.get("side") if kind == "review_comment" else None,
        diff_hunk=data.get("diff_hunk") if kind == "review_comment" else None,
        in_reply_to_id=_int_or_none(data.get("in_reply_to_id")),
        state=str(data["state"]) if kind == "review" and data.get("state") else None,
    )


def node_state_of(node: dict[str, Any]) -> NodeState:
    edits_of = node.get("userContentEdits")
    edits = edits_of.get("nodes") if isinstance(edits_of, dict) else None
    revisions = [(when(e.get("editedAt")), str(e.get("diff") or "")) for e in edits or () if isinstance(e, dict)]
    last = node.get("lastEditedAt")
    return NodeState(bool(node.get("isMinimized")), sorted(revisions, key=lambda r: r[0]),
                     when(last) if last else None)


@dataclass(frozen=True)
class RepoFile:
    """A file read through the Contents API: its blob sha, its text (None: too large for the API to include) and
    the answer's ETag; `not_modified`: GitHub answered 304 to the ETag sent (nothing else is set then)."""

    sha: str
    text: str | None
    etag: str | None = None
    not_modified: bool = False


def repo_file_of(data: Any, etag: str | None) -> RepoFile | None:
    """A file's answer; None for anything that is not a regular file (a folder, a submodule)."""
    if not isinstance(data, dict) or data.get("type") != "file" or not isinstance(data.get("sha"), str):
        return None
    content = data.get("content")
    if data.get("encoding") != "base64" or not isinstance(content, str):
        return RepoFile(data["sha"], None, etag)
    try:
        text = base64.b64decode(content).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        text = None
    return RepoFile(data["sha"], text, etag)
