"""A fake GitHub REST API on loopback that records every call, for end-to-end tests.

In-process:  with FakeGitHub(seed) as fake: GitHub(TokenAuthStrategy("t"), base_url=fake.url)
Standalone:  python -m tests.support.fake_github --port 0 --state seed.json   (from the repo root;
             prints FAKE_GITHUB_URL=http://127.0.0.1:PORT on stdout once listening)
Inspect:     FakeGitHubClient(url), or GET|DELETE /_fake/calls, GET|POST|DELETE /_fake/state,
             GET|POST|DELETE /_fake/faults, GET|DELETE /_fake/violations.

Every request is checked against GitHub's OpenAPI description (tests/support/openapi.py;
FakeGitHub(spec="ghes-3.19") or --spec picks another, served under /api/v3): one it does not
allow is answered 422 (an unknown path 404) and kept in /_fake/violations, so suites assert
there are none. /graphql only has to be {"query": str, "variables": object}.

Seed (POST /_fake/state merges it; every key optional; repos must be seeded before use):
    {"bot_login": "awo-bot[bot]", "tokens": ["ghs_x"],          # tokens: if set, others get 401
     "repos": {"octo/hello": {"default_branch": "main", "clone_url": "file:///tmp/hello.git",
                              "private": false, "description": null, "default_permission": "none"}},
     "permissions": {"octo/hello": {"alice": "admin", "bob": "triage"}},
     "issues": {"octo/hello": [{"number": 7, "title": "t", "body": "b", "user": "alice",
                                "labels": ["agent"], "state": "open"}]},
     "comments": {"octo/hello": [{"issue_number": 7, "body": "hi", "user": "alice"}]},
     "pulls": {"octo/hello": [{"head": "octo:branch", "base": "main", "title": "t", "body": null,
                               "draft": false, "state": "open", "user": "awo-bot[bot]"}]}}

Recorded call (GET /_fake/calls, oldest first; /_fake/* itself is not recorded):
    {"seq": 1, "time": "2025-01-01T00:00:00.000+00:00", "method": "POST",
     "path": "/repos/octo/hello/issues/7/comments", "query": {}, "json": {"body": "..."},
     "status": 201, "authorization": "token ghs_x", "token": "ghs_x", "faulted": false}

Issues are lenient: any number in a seeded repo exists (a placeholder unless seeded or a PR).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .fake_github_model import (
    DEFAULT_BOT,
    PULLS_DOC,
    REACTIONS,
    SAME_REPO,
    Comment,
    FakeState,
    Fault,
    GitHubError,
    Json,
    Pull,
    Reaction,
    Reply,
    Repo,
    SeedError,
    bind_spec,
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
from .fake_github_threads import (
    ReviewComment,
    add_review_comment,
    edit,
    graphql_node,
    node_id_of,
    render_file,
    render_review,
    render_review_comment,
)
from .openapi import DEFAULT_SPEC, Description, description

# ---------------------------------------------------------------- GitHub endpoints


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
    comments = len(ctx.state.comments_on(r, pull.number)) if full else None
    return render_pull(ctx.api, pull, r, head_repo, comments)


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


def list_files(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r, pull = _find_pull(ctx, owner, repo, number)
    return _page(ctx, [render_file(r.full_name, pull, f) for f in pull.files])


def list_reviews(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r, pull = _find_pull(ctx, owner, repo, number)
    ids = ctx.state.reviews_by_pull.get((r.full_name.lower(), pull.number), [])
    reviews = [ctx.state.reviews[i] for i in ids]
    return _page(ctx, [render_review(ctx.api, v, ctx.state.association(r, v.user)) for v in reviews])


def _review_comment_json(ctx: Ctx, r: Repo, c: ReviewComment) -> Json:
    return render_review_comment(ctx.api, c, ctx.state.association(r, c.user))


def list_review_comments(ctx: Ctx, owner: str, repo: str, number: str) -> Reply:
    r, pull = _find_pull(ctx, owner, repo, number)
    ids = ctx.state.review_comments_by_pull.get((r.full_name.lower(), pull.number), [])
    return _page(ctx, [_review_comment_json(ctx, r, ctx.state.review_comments[i]) for i in ids])


def _find_review_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> tuple[Repo, ReviewComment]:
    r = ctx.state.repo(owner, repo)
    comment = ctx.state.review_comments.get(int(comment_id))
    if comment is None or comment.repo.lower() != r.full_name.lower():
        raise GitHubError(404, "Not Found", "https://docs.github.com/rest/pulls/comments")
    return r, comment


def get_review_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_review_comment(ctx, owner, repo, comment_id)
    return Reply(200, _review_comment_json(ctx, r, comment))


def update_review_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_review_comment(ctx, owner, repo, comment_id)
    edit(comment, str(_text(ctx, "body")))
    return Reply(200, _review_comment_json(ctx, r, comment))


def reply_review_comment(ctx: Ctx, owner: str, repo: str, number: str, comment_id: str) -> Reply:
    """A threaded reply; 404 unless {comment_id} is a review comment of this pull request."""
    r, pull = _find_pull(ctx, owner, repo, number)
    _, parent = _find_review_comment(ctx, owner, repo, comment_id)
    if parent.pull_number != pull.number:
        raise GitHubError(404, "Not Found", "https://docs.github.com/rest/pulls/comments")
    comment = add_review_comment(ctx.state, r, pull.number, str(_text(ctx, "body")), in_reply_to_id=parent.id)
    body = _review_comment_json(ctx, r, comment)
    return Reply(201, body, {"location": body["url"]})


def react_review_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    r, comment = _find_review_comment(ctx, owner, repo, comment_id)
    return _react(ctx, r, "review_comment", comment.id)


NODES_QUERY = re.compile(r"\bnodes\s*\(\s*ids\s*:")


def graphql(ctx: Ctx) -> Reply:
    """Only the bot's one query: nodes(ids:) -> minimized state and edit history of comments and reviews."""
    if not NODES_QUERY.search(str(ctx.body.get("query", ""))):
        return Reply(200, {"errors": [{"message": "the fake answers only nodes(ids: ...) queries"}]})
    ids = (ctx.body.get("variables") or {}).get("ids")
    if not isinstance(ids, list):
        return Reply(200, {"errors": [{"message": "Variable $ids of type [ID!]! was provided invalid value"}]})
    known = {node_id_of(x): x for records in (ctx.state.comments, ctx.state.review_comments, ctx.state.reviews)
             for x in records.values()}
    return Reply(200, {"data": {"nodes": [graphql_node(known[i]) if i in known else None for i in ids]}})


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
    ("GET", REPO + r"/pulls/(?P<number>\d+)/files", list_files),
    ("GET", REPO + r"/pulls/(?P<number>\d+)/reviews", list_reviews),
    ("GET", REPO + r"/pulls/(?P<number>\d+)/comments", list_review_comments),
    ("GET", REPO + r"/pulls/comments/(?P<comment_id>\d+)", get_review_comment),
    ("PATCH", REPO + r"/pulls/comments/(?P<comment_id>\d+)", update_review_comment),
    ("POST", REPO + r"/pulls/(?P<number>\d+)/comments/(?P<comment_id>\d+)/replies", reply_review_comment),
    ("POST", REPO + r"/pulls/comments/(?P<comment_id>\d+)/reactions", react_review_comment),
    ("POST", "/graphql", graphql),
]
ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in ENDPOINTS]


def _check_auth(state: FakeState, header: str | None) -> None:
    if not header:
        raise GitHubError(401, "Requires authentication")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token or (state.tokens and token not in state.tokens):
        raise GitHubError(401, "Bad credentials")


def _route(ctx: Ctx, method: str, path: str) -> Reply:
    for verb, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return handler(ctx, **match.groupdict())
    raise GitHubError(404, "Not Found")


def _parse_body(raw: bytes) -> tuple[Any, bool]:
    if not raw.strip():
        return None, True
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace"), False
    return value, isinstance(value, dict)


def _answer(state: FakeState, request: Request, path: str, body: Any, body_ok: bool) -> Reply:
    try:
        _check_auth(state, request.headers.get("authorization"))
        if not body_ok:
            raise GitHubError(400, "Problems parsing JSON")
        api = str(request.base_url).rstrip("/") + request.app.state.spec.prefix
        ctx = Ctx(state, api, str(request.url), request.query_params, body or {})
        return _route(ctx, request.method, path)
    except GitHubError as exc:
        return Reply(exc.status, exc.body)


def _check(spec: Description, request: Request, path: str, body: Any) -> list[str] | None:
    """What the description does not allow in this request; None: no such path (GitHub's 404)."""
    if path == "/graphql":
        ok = isinstance(body, dict) and set(body) <= {"query", "variables", "operationName"} and isinstance(
            body.get("query"), str) and isinstance(body.get("variables", {}), dict)
        return [] if ok else ['a GraphQL request is {"query": str, "variables": object}']
    found = spec.match(path)
    operation = found and spec.operation(request.method, found[0])
    if not found or not operation:
        return None
    return operation.check(found[1], request.query_params.multi_items(), body)


def _validate(state: FakeState, spec: Description, request: Request, path: str, body: Any) -> Reply | None:
    """Record a violation and answer like GitHub would: 404 for an unknown path, 422 for the rest."""
    problems = _check(spec, request, path, body)
    if problems == []:
        return None
    reasons = problems or [f"{request.method} {path} is not in the {spec.name} description"]
    state.violations.append({"method": request.method, "path": request.url.path,
                             "query": dict(request.query_params), "json": body, "problems": reasons})
    if problems is None:
        return Reply(404, GitHubError(404, "Not Found").body)
    return Reply(422, GitHubError(422, "Invalid request.\n\n" + "\n".join(problems)).body)


async def github_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    spec: Description = request.app.state.spec
    body, body_ok = _parse_body(await request.body())
    path = request.url.path.removeprefix(spec.prefix) if spec.prefix else request.url.path
    if spec.prefix and path == "/api/graphql":
        path = "/graphql"
    invalid = _validate(state, spec, request, path, body) if body_ok else None
    fault = state.take_fault(request.method, request.url.path)
    reply = fault or invalid or _answer(state, request, path, body, body_ok)
    state.record({"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                  "json": body, "status": reply.status, "authorization": request.headers.get("authorization"),
                  "faulted": fault is not None})
    return JSONResponse(reply.body, reply.status, headers=reply.headers)


# ---------------------------------------------------------------- /_fake control endpoints


async def calls_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.calls.clear()
        return Response(status_code=204)
    return JSONResponse(state.calls)


async def state_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.reset()
    elif request.method == "POST":
        try:
            state.seed(await request.json())
        except (SeedError, json.JSONDecodeError) as exc:
            return JSONResponse({"message": f"bad seed: {exc}"}, 400)
    return JSONResponse(state.snapshot())


async def violations_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.violations.clear()
    return JSONResponse(state.violations)


async def faults_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        try:
            state.faults.append(bind_spec(Fault, await request.json()))
        except (SeedError, json.JSONDecodeError) as exc:
            return JSONResponse({"message": f"bad fault: {exc}"}, 400)
    return JSONResponse([asdict(f) for f in state.faults])


def create_app(state: FakeState | None = None, spec: str = DEFAULT_SPEC) -> Starlette:
    app = Starlette(routes=[
        Route("/_fake/calls", calls_endpoint, methods=["GET", "DELETE"]),
        Route("/_fake/violations", violations_endpoint, methods=["GET", "DELETE"]),
        Route("/_fake/state", state_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/_fake/faults", faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/{path:path}", github_endpoint, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ])
    app.state.fake = state or FakeState()
    app.state.spec = description(spec)
    return app


# ---------------------------------------------------------------- running it


class FakeGitHub:
    """The fake on a free loopback port, served by uvicorn on a background thread."""

    def __init__(self, seed: Mapping[str, Any] | None = None, *, bot_login: str = DEFAULT_BOT,
                 host: str = "127.0.0.1", port: int = 0, spec: str = DEFAULT_SPEC) -> None:
        self.state = FakeState(bot_login=bot_login)
        self.state.seed(seed or {})
        self.app = create_app(self.state, spec)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> tuple[uvicorn.Server, socket.socket]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", ws="none")
        return uvicorn.Server(config), sock

    def start(self, timeout: float = 10.0) -> FakeGitHub:
        server, sock = self._bind()
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"fake-github:{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"fake GitHub did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Foreground serving for the standalone process (Ctrl-C / SIGTERM to stop)."""
        server, sock = self._bind()
        print(f"FAKE_GITHUB_URL={self.url}", flush=True)
        server.run(sockets=[sock])

    def client(self) -> FakeGitHubClient:
        return FakeGitHubClient(self.url)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class FakeGitHubClient:
    """Synchronous access to the /_fake control endpoints of a running fake."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def calls(self, method: str | None = None, path: str | None = None) -> list[Json]:
        """Recorded GitHub calls, optionally only one method and paths matching a regex."""
        return [c for c in self._json("GET", "/_fake/calls")
                if (method is None or c["method"] == method.upper())
                and (path is None or re.search(path, c["path"]))]

    def clear_calls(self) -> None:
        self._json("DELETE", "/_fake/calls")

    def violations(self) -> list[Json]:
        """Requests the OpenAPI description does not allow ({method, path, query, json, problems})."""
        result: list[Json] = self._json("GET", "/_fake/violations")
        return result

    def clear_violations(self) -> None:
        self._json("DELETE", "/_fake/violations")

    def state(self) -> Json:
        result: Json = self._json("GET", "/_fake/state")
        return result

    def seed(self, data: Mapping[str, Any]) -> Json:
        result: Json = self._json("POST", "/_fake/state", dict(data))
        return result

    def reset(self) -> None:
        self._json("DELETE", "/_fake/state")

    def comments(self, repo: str, issue: int | None = None) -> list[Json]:
        return [c for c in self.state()["comments"] if c["repo"].lower() == repo.lower()
                and (issue is None or c["issue_number"] == issue)]

    def review_comments(self, repo: str, pull: int | None = None) -> list[Json]:
        """Review comments (seeded and created: replies have in_reply_to_id), oldest first."""
        return [c for c in self.state()["review_comments"] if c["repo"].lower() == repo.lower()
                and (pull is None or c["pull_number"] == pull)]

    def reviews(self, repo: str, pull: int | None = None) -> list[Json]:
        return [r for r in self.state()["reviews"] if r["repo"].lower() == repo.lower()
                and (pull is None or r["pull_number"] == pull)]

    def pulls(self, repo: str) -> list[Json]:
        return [p for p in self.state()["pulls"] if p["repo"].lower() == repo.lower()]

    def reactions(self, repo: str) -> list[Json]:
        return [r for r in self.state()["reactions"] if r["repo"].lower() == repo.lower()]

    def fault(self, method: str | None, path_regex: str, status: int = 502, times: int | None = 1,
              body: Json | None = None, headers: Mapping[str, str] | None = None) -> None:
        spec = {"method": method, "path_regex": path_regex, "status": status, "times": times,
                "body": body, "headers": dict(headers or {})}
        self._json("POST", "/_fake/faults", spec)

    def clear_faults(self) -> None:
        self._json("DELETE", "/_fake/faults")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FakeGitHubClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_github", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", type=Path, help="seed JSON file (the POST /_fake/state format)")
    parser.add_argument("--bot-login", default=DEFAULT_BOT)
    parser.add_argument("--spec", default=DEFAULT_SPEC, help='OpenAPI description, e.g. "ghes-3.19"')
    args = parser.parse_args(argv)
    seed = json.loads(args.state.read_text()) if args.state else None
    FakeGitHub(seed, bot_login=args.bot_login, host=args.host, port=args.port, spec=args.spec).serve_forever()


if __name__ == "__main__":
    main()
