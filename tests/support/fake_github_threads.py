"""The fake GitHub's pull-request conversations: changed files, reviews, review comments (see fake_github.py).

Seed (keys of POST /_fake/state, beside those in fake_github.py):
    "pulls": {"octo/hello": [{"number": 3, "head": "forker:fix", "head_repo": "forker/hello",   # None: deleted fork
                              "maintainer_can_modify": true, "base": "main", "title": "t", "body": "b",
                              "files": [{"filename": "a.py", "status": "modified", "additions": 1,
                                         "deletions": 0, "patch": "@@ -1 +1 @@\n-x\n+y"}]}]},
    "reviews": {"octo/hello": [{"pull_number": 3, "user": "alice", "body": "@claude look",
                                "state": "COMMENTED", "submitted_at": "...", "minimized": false}]},
    "review_comments": {"octo/hello": [{"pull_number": 3, "id": 900, "user": "alice", "body": "rename",
                                        "path": "a.py", "line": 1, "side": "RIGHT", "diff_hunk": "@@ ...",
                                        "in_reply_to_id": null, "review_id": null}]}
    On comments, reviews and review comments: "minimized": true hides them (GraphQL isMinimized) and
    "edits": [{"edited_at": "...", "body": "..."}] is their edit history (every revision, the newest is
    the current body; body may then be left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .fake_github_model import (
    WEB,
    GitHubError,
    Json,
    Repo,
    SeedError,
    bind_spec,
    fake_sha,
    node_id,
    now,
    reaction_rollup,
    render_user,
)

if TYPE_CHECKING:
    from .fake_github_model import FakeState, Pull

FILE_STATUSES = ("added", "removed", "modified", "renamed", "copied", "changed", "unchanged")
LINE_FIELDS = ("path", "line", "side", "start_line", "original_line", "diff_hunk", "review_id", "minimized")
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")


def history(body: str | None, edits: list[Json] | None) -> tuple[str, list[Json]]:
    """A body and its edit history, sorted oldest first; the body defaults to the newest revision."""
    if not isinstance(edits or [], list) or any(not isinstance(e, dict) or set(e) != {"edited_at", "body"}
                                                for e in edits or []):
        raise SeedError('edits are [{"edited_at": str, "body": str}, ...]')
    revisions = sorted(edits or [], key=lambda e: str(e["edited_at"]))
    if body is None:
        if not revisions:
            raise SeedError("a body (or edits) is required")
        body = str(revisions[-1]["body"])
    return body, revisions


def edit(record: Any, body: str) -> None:
    """An edit through the API, kept in the history like GitHub's: the first edit also keeps the original."""
    stamp = now()
    if not record.edits:
        record.edits.append({"edited_at": record.created_at, "body": record.body})
    record.edits.append({"edited_at": stamp, "body": body})
    record.body, record.updated_at = body, stamp


@dataclass
class PullFile:
    filename: str
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    changes: int | None = None
    patch: str | None = None
    previous_filename: str | None = None

    def __post_init__(self) -> None:
        if self.status not in FILE_STATUSES:
            raise SeedError(f"file status {self.status!r} is not one of {FILE_STATUSES}")


@dataclass
class Review:
    id: int
    repo: str
    pull_number: int
    user: str
    body: str
    state: str = "COMMENTED"
    submitted_at: str = field(default_factory=now)
    minimized: bool = False
    edits: list[Json] = field(default_factory=list)

    @property
    def created_at(self) -> str:
        return self.submitted_at

    @property
    def node_id(self) -> str:
        return node_id("PullRequestReview", self.id)


@dataclass
class ReviewComment:
    id: int
    repo: str
    pull_number: int
    user: str
    body: str
    path: str = "README.md"
    line: int | None = 1
    side: str = "RIGHT"
    start_line: int | None = None
    original_line: int | None = None
    diff_hunk: str = "@@ -1 +1 @@\n-old\n+new"
    in_reply_to_id: int | None = None
    review_id: int | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    minimized: bool = False
    edits: list[Json] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return node_id("PullRequestReviewComment", self.id)


def add_review(state: FakeState, repo: Repo, pull_number: int, body: str | None = None, user: str | None = None,
               state_: str = "COMMENTED", submitted_at: str | None = None, minimized: bool = False,
               edits: list[Json] | None = None, id: int | None = None) -> Review:  # noqa: A002
    text, revisions = history(body, edits)
    if state_ not in REVIEW_STATES:
        raise SeedError(f"review state {state_!r} is not one of {REVIEW_STATES}")
    review = Review(id or next(state.ids), repo.full_name, pull_number, user or repo.owner, text, state_,
                    submitted_at or now(), minimized, revisions)
    state.reviews[review.id] = review
    state.reviews_by_pull.setdefault((repo.full_name.lower(), pull_number), []).append(review.id)
    return review


def add_review_comment(state: FakeState, repo: Repo, pull_number: int, body: str | None = None,
                       user: str | None = None, id: int | None = None,  # noqa: A002
                       in_reply_to_id: int | None = None, edits: list[Json] | None = None,
                       created_at: str | None = None, **fields: Any) -> ReviewComment:
    """A review comment; a reply joins its thread (GitHub answers a reply to a reply in the same thread)."""
    unknown = set(fields) - set(LINE_FIELDS)
    if unknown:
        raise SeedError(f"review comments have no {sorted(unknown)}; they take {LINE_FIELDS}")
    text, revisions = history(body, edits)
    top = state.review_comments.get(in_reply_to_id) if in_reply_to_id is not None else None
    if in_reply_to_id is not None and top is None:
        raise GitHubError(404, "Not Found", "https://docs.github.com/rest/pulls/comments")
    if top is not None:
        in_reply_to_id = top.in_reply_to_id or top.id
        fields = {"path": top.path, "line": top.line, "side": top.side, "diff_hunk": top.diff_hunk} | fields
    stamp = created_at or now()
    comment = ReviewComment(id or next(state.ids), repo.full_name, pull_number, user or state.bot_login, text,
                            in_reply_to_id=in_reply_to_id, edits=revisions, created_at=stamp,
                            updated_at=revisions[-1]["edited_at"] if revisions else stamp, **fields)
    state.review_comments[comment.id] = comment
    state.review_comments_by_pull.setdefault((repo.full_name.lower(), pull_number), []).append(comment.id)
    return comment


def seed_threads(state: FakeState, data: Any) -> None:
    """The "reviews" and "review_comments" seed sections (repos must already be seeded)."""
    for key, add in (("reviews", add_review), ("review_comments", add_review_comment)):
        for full_name, items in (data.get(key) or {}).items():
            repo = state._seeded(full_name)
            for spec in items:
                spec = {"state_" if k == "state" and key == "reviews" else k: v for k, v in spec.items()}
                try:
                    bind_spec(add, spec, state=state, repo=repo)
                except GitHubError as exc:
                    raise SeedError(f"{key}: in_reply_to_id {spec.get('in_reply_to_id')} is not seeded") from exc


# ---------------------------------------------------------------- GitHub-shaped JSON


def render_file(repo: str, pull: Pull, f: PullFile) -> Json:
    sha = fake_sha(pull.head_owner, pull.head)
    blob = f"{WEB}/{repo}/blob/{sha}/{f.filename}"
    body: Json = {"sha": fake_sha(f.filename, sha), "filename": f.filename, "status": f.status,
                  "additions": f.additions, "deletions": f.deletions,
                  "changes": f.changes if f.changes is not None else f.additions + f.deletions,
                  "blob_url": blob, "raw_url": blob.replace("/blob/", "/raw/"),
                  "contents_url": f"https://api.github.com/repos/{repo}/contents/{f.filename}?ref={sha}"}
    if f.patch is not None:
        body["patch"] = f.patch
    if f.previous_filename is not None:
        body["previous_filename"] = f.previous_filename
    return body


def render_review(api: str, review: Review, association: str) -> Json:
    pull_url = f"{api}/repos/{review.repo}/pulls/{review.pull_number}"
    html = f"{WEB}/{review.repo}/pull/{review.pull_number}#pullrequestreview-{review.id}"
    return {"id": review.id, "node_id": review.node_id, "user": render_user(api, review.user),
            "body": review.body, "state": review.state, "html_url": html, "pull_request_url": pull_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "submitted_at": review.submitted_at, "commit_id": fake_sha(review.repo, str(review.pull_number)),
            "author_association": association}


def render_review_comment(api: str, c: ReviewComment, association: str) -> Json:
    url = f"{api}/repos/{c.repo}/pulls/comments/{c.id}"
    pull_url = f"{api}/repos/{c.repo}/pulls/{c.pull_number}"
    html = f"{WEB}/{c.repo}/pull/{c.pull_number}#discussion_r{c.id}"
    sha = fake_sha(c.repo, str(c.pull_number))
    body: Json = {
        "url": url, "pull_request_review_id": c.review_id, "id": c.id, "node_id": c.node_id,
        "diff_hunk": c.diff_hunk, "path": c.path, "commit_id": sha, "original_commit_id": sha,
        "user": render_user(api, c.user), "body": c.body, "created_at": c.created_at, "updated_at": c.updated_at,
        "html_url": html, "pull_request_url": pull_url, "author_association": association,
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_url}},
        "start_line": c.start_line, "original_start_line": c.start_line,
        "start_side": c.side if c.start_line is not None else None,
        "line": c.line, "original_line": c.original_line if c.original_line is not None else c.line,
        "side": c.side, "subject_type": "line", "reactions": reaction_rollup(f"{url}/reactions"),
    }
    if c.in_reply_to_id is not None:
        body["in_reply_to_id"] = c.in_reply_to_id
    return {k: v for k, v in body.items() if not (k == "line" and v is None)}


def graphql_node(record: Any) -> Json:
    """The `nodes(ids:)` answer for a comment, review comment or review: state and edit history."""
    order = sorted(enumerate(record.edits), key=lambda p: (str(p[1]["edited_at"]), p[0]), reverse=True)
    edits = [e for _, e in order]  # newest first; within one second, the later edit is newer
    return {"id": node_id_of(record), "isMinimized": record.minimized,
            "minimizedReason": "OUTDATED" if record.minimized else None, "createdAt": record.created_at,
            "lastEditedAt": edits[0]["edited_at"] if edits else None,
            "userContentEdits": {"nodes": [{"editedAt": e["edited_at"], "diff": e["body"]} for e in edits]}}


def node_id_of(record: Any) -> str:
    return record.node_id if isinstance(record, Review | ReviewComment) else node_id("IssueComment", record.id)
