"""The fake GitHub's REST handlers for users, repositories, issues, comments, reactions and pulls.

Each handler takes a Ctx and the path's named groups and returns a Reply (or raises GitHubError);
fake_github.py routes requests to them through ENDPOINTS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from .fake_github_model import (
    PULLS_DOC,
    REACTIONS,
    SAME_REPO,
    Comment,
    FakeState,
    GitHubError,
    Json,
    Pull,
    Reaction,
    Reply,
    Repo,
    now,
    render_account,
    render_comment,
    render_issue,
    render_permission,
    render_pull,
    render_reaction,
    render_repo,
    render_user,
)
from .fake_github_threads import edit


@dataclass
class Ctx:
    state: FakeState
    api: str
    url: str
    query: Mapping[str, str]
    body: Json


def _text(ctx: Ctx, name: str, required: bool = True) -> str | None:
    value = ctx.body.get(name)
    if value is None and required:
        raise GitHubError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
    if value is not None and not isinstance(value, str):
        detail = f"For 'properties/{name}', {json.dumps(value)} is not a string."
        raise GitHubError(422, f"Invalid request.\n\n{detail}")
    return value


def _int_param(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.query.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


def _page(ctx: Ctx, items: list[Json]) -> Reply:
    """GitHub pagination: per_page (max 100, default 30), page, and a Link header."""
    per_page, page = min(_int_param(ctx, "per_page", 30), 100), _int_param(ctx, "page", 1)
    last = max(1, -(-len(items) // per_page))
    url = httpx.URL(ctx.url)
    rels = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
    wanted = [rel for rel in rels if (rel in ("next", "last") and page < last) or
              (rel in ("prev", "first") and page > 1)]
    links = [f'<{url.copy_set_param("page", str(rels[rel]))}>; rel="{rel}"' for rel in wanted]
    headers = {"link": ", ".join(links)} if links else {}
    return Reply(200, items[(page - 1) * per_page: page * per_page], headers)


def get_user(ctx: Ctx) -> Reply:
    return Reply(200, render_account(ctx.api, ctx.state.bot_login))


def get_repo(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    key = r.full_name.lower()
    issues = sum(k == key and i.state == "open" for (k, _), i in ctx.state.issues.items())
    pulls = sum(k == key and p.state == "open" for (k, _), p in ctx.state.pulls.items())
    return Reply(200, render_repo(ctx.api, r, issues + pulls))


def get_permission(ctx: Ctx, owner: str, repo: str, username: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    return Reply(200, render_permission(ctx.api, username, ctx.state.role(r, username)))


def get_issue(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    issue = ctx.state.issue(r, int(number))
    author = render_user(ctx.api, issue.user)
    comments = len(ctx.state.comments_on(r, issue.number))
    association = ctx.state.association(r, issue.user)
    pull = ctx.state.pull(r, issue.number)
    return Reply(200, render_issue(ctx.api, issue, author, association, comments, pull))


def _comment_json(ctx: Ctx, r: Repo, comment: Comment) -> Json:
    author = render_user(ctx.api, comment.user)
    return render_comment(ctx.api, comment, author, ctx.state.association(r, comment.user))


def list_comments(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    return _page(ctx, [_comment_json(ctx, r, c) for c in ctx.state.comments_on(r, int(number))])


def create_comment(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    issue = ctx.state.issue(r, int(number))
    comment = ctx.state.add_comment(r, issue.number, str(_text(ctx, "body")))
    body = _comment_json(ctx, r, comment)
    return Reply(201, body, {"location": body["url"]})


def _find_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> tuple[Repo, Comment]:
    r = ctx.state.repo(owner, repo)
    comment = ctx.state.comments.get(int(comment_id))
    if comment is None or comment.repo.lower() != r.full_name.lower():
        raise GitHubError(404, "Not Found", "https://docs.github.com/rest/issues/comments#get-an-issue-comment")
    return r, comment


def get_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_comment(ctx, owner, repo, comment_id)
    return Reply(200, _comment_json(ctx, r, comment))


def update_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_comment(ctx, owner, repo, comment_id)
    edit(comment, str(_text(ctx, "body")))
    return Reply(200, _comment_json(ctx, r, comment))


def _react(ctx: Ctx, r: Repo, subject: Literal["issue", "comment", "review_comment"], subject_id: int) -> Reply:
    content = _text(ctx, "content")
    if content not in REACTIONS:
        raise GitHubError(422, "Validation Failed", "https://docs.github.com/rest/reactions/reactions",
                          [{"resource": "Reaction", "code": "invalid", "field": "content"}])
    login = ctx.state.bot_login
    for old in ctx.state.reactions:
        same = (old.repo.lower(), old.subject, old.subject_id, old.content, old.user)
        if same == (r.full_name.lower(), subject, subject_id, content, login):
            return Reply(200, render_reaction(ctx.api, old))
    new = Reaction(next(ctx.state.ids), r.full_name, subject, subject_id, content, login)
    ctx.state.reactions.append(new)
    return Reply(201, render_reaction(ctx.api, new))


def react_issue(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    return _react(ctx, r, "issue", ctx.state.issue(r, int(number)).number)


def react_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_comment(ctx, owner, repo, comment_id)
    return _react(ctx, r, "comment", comment.id)


def _head_repo(ctx: Ctx, r: Repo, pull: Pull) -> Repo | None:
    """The head's repository: the base's name under the head owner, a named fork, or None (deleted fork)."""
    if pull.head_repo == SAME_REPO:
        return ctx.state.repos.get(f"{pull.head_owner}/{r.name}".lower())
    if pull.head_repo is None:
        return None
    owner, _, name = pull.head_repo.partition("/")
    return ctx.state.repos.get(pull.head_repo.lower()) or Repo(owner, name)


def _pull_json(ctx: Ctx, r: Repo, pull: Pull, full: bool = True) -> Json:
    head_repo = _head_repo(ctx, r, pull)
    if not full:
        return render_pull(ctx.api, pull, r, head_repo)
    body = render_pull(ctx.api, pull, r, head_repo, len(ctx.state.comments_on(r, pull.number)))
    threads = ctx.state.review_comments_by_pull.get((r.full_name.lower(), pull.number), [])
    if pull.files:  # the counts the bot may quote in a prompt match the seeded files
        body |= {"changed_files": len(pull.files), "additions": sum(f.additions for f in pull.files),
                 "deletions": sum(f.deletions for f in pull.files)}
    return body | {"review_comments": len(threads)}


def _reject_duplicate(ctx: Ctx, r: Repo, head_label: str, base: str, number: int = 0) -> None:
    """GitHub allows one open PR per (head, base) pair."""
    for other in ctx.state.pulls.values():
        if (other.repo.lower() == r.full_name.lower() and other.state == "open" and other.number != number
                and other.head_label.lower() == head_label.lower() and other.base == base):
            raise GitHubError(422, "Validation Failed", PULLS_DOC, [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {head_label}."}])


def list_pulls(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    state, head, base = ctx.query.get("state", "open"), ctx.query.get("head", ""), ctx.query.get("base")
    pulls = [p for p in ctx.state.pulls.values() if p.repo.lower() == r.full_name.lower()]
    pulls = [p for p in pulls if state == "all" or p.state == state]
    if ":" in head:  # like GitHub, a head without "owner:" is silently ignored
        pulls = [p for p in pulls if p.head_label.lower() == head.lower()]
    pulls = [p for p in pulls if base is None or p.base == base]
    pulls.sort(key=lambda p: p.number, reverse=ctx.query.get("direction", "desc") == "desc")
    return _page(ctx, [_pull_json(ctx, r, p, full=False) for p in pulls])


def create_pull(ctx: Ctx, owner: str, repo: str) -> Reply:
    r = ctx.state.repo(owner, repo)
    title, head, base = (str(_text(ctx, name)) for name in ("title", "head", "base"))
    head_owner, _, ref = head.rpartition(":")
    _reject_duplicate(ctx, r, f"{head_owner or r.owner}:{ref}", base)
    pull = ctx.state.add_pull(r, head, base, title, body=_text(ctx, "body", required=False),
                              draft=bool(ctx.body.get("draft", False)),
                              maintainer_can_modify=bool(ctx.body.get("maintainer_can_modify", False)))
    body = _pull_json(ctx, r, pull)
    return Reply(201, body, {"location": body["url"]})


def _find_pull(ctx: Ctx, owner: str, repo: str, number: str) -> tuple[Repo, Pull]:
    r = ctx.state.repo(owner, repo)
    pull = ctx.state.pull(r, int(number))
    if pull is None:
        raise GitHubError(404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
    return r, pull


def get_pull(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r, pull = _find_pull(ctx, owner, repo, number)
    return Reply(200, _pull_json(ctx, r, pull))


def update_pull(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r, pull = _find_pull(ctx, owner, repo, number)
    state = _text(ctx, "state", required=False) or pull.state
    base = _text(ctx, "base", required=False) or pull.base
    if state not in ("open", "closed"):
        raise GitHubError(422, "Validation Failed", PULLS_DOC,
                          [{"resource": "PullRequest", "code": "invalid", "field": "state"}])
    if state == "open":
        _reject_duplicate(ctx, r, pull.head_label, base, pull.number)
    pull.title = _text(ctx, "title", required=False) or pull.title
    pull.body = _text(ctx, "body", required=False) if "body" in ctx.body else pull.body
    pull.closed_at = None if state == "open" else (pull.closed_at or now())
    pull.state, pull.base, pull.updated_at = state, base, now()
    return Reply(200, _pull_json(ctx, r, pull))


REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
ENDPOINTS: list[tuple[str, str, Callable[..., Reply]]] = [
    ("GET", "/user", get_user),
    ("GET", REPO, get_repo),
    ("GET", REPO + "/collaborators/(?P<username>[^/]+)/permission", get_permission),
    ("GET", REPO + r"/issues/(?P<number>\d+)", get_issue),
    ("GET", REPO + r"/issues/(?P<number>\d+)/comments", list_comments),
    ("POST", REPO + r"/issues/(?P<number>\d+)/comments", create_comment),
    ("GET", REPO + r"/issues/comments/(?P<comment_id>\d+)", get_comment),
    ("PATCH", REPO + r"/issues/comments/(?P<comment_id>\d+)", update_comment),
    ("POST", REPO + r"/issues/(?P<number>\d+)/reactions", react_issue),
    ("POST", REPO + r"/issues/comments/(?P<comment_id>\d+)/reactions", react_comment),
    ("GET", REPO + "/pulls", list_pulls),
    ("POST", REPO + "/pulls", create_pull),
    ("GET", REPO + r"/pulls/(?P<number>\d+)", get_pull),
    ("PATCH", REPO + r"/pulls/(?P<number>\d+)", update_pull),
]
