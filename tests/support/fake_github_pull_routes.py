"""The fake GitHub's handlers for pull-request conversations: files, reviews, review comments, GraphQL.

Records, seeds and JSON shapes are in fake_github_threads.py; fake_github.py routes to PULL_ENDPOINTS.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .fake_github_model import GitHubError, Json, Reply, Repo
from .fake_github_routes import REPO, Ctx, _find_pull, _page, _react, _text
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



PULL_ENDPOINTS: list[tuple[str, str, Callable[..., Reply]]] = [
    ("GET", REPO + r"/pulls/(?P<number>\d+)/files", list_files),
    ("GET", REPO + r"/pulls/(?P<number>\d+)/reviews", list_reviews),
    ("GET", REPO + r"/pulls/(?P<number>\d+)/comments", list_review_comments),
    ("GET", REPO + r"/pulls/comments/(?P<comment_id>\d+)", get_review_comment),
    ("PATCH", REPO + r"/pulls/comments/(?P<comment_id>\d+)", update_review_comment),
    ("POST", REPO + r"/pulls/(?P<number>\d+)/comments/(?P<comment_id>\d+)/replies", reply_review_comment),
    ("POST", REPO + r"/pulls/comments/(?P<comment_id>\d+)/reactions", react_review_comment),
    ("POST", "/graphql", graphql),
]
