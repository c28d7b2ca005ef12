"""Pull-request events → Trigger: a comment on a diff line, a review's body, an assignment, a label.

Texts are sanitised as for issues; a diff hunk is code, so only its invisible characters go.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.control import UNLABELED
from bot.events import PullRequestEvent, ReviewComment, parse_pull_request_event
from bot.models import Ignored, ReviewLocation, Trigger
from bot.sanitize import one_line, visible, without_invisible
from bot.trigger_rules import PULL_REQUEST_REQUEST, TriggerRules, event_key, origin, request_after

MAX_HUNK = 20_000
MAX_PATH = 1_000
MAX_REF = 255
SIDES = frozenset({"LEFT", "RIGHT"})
NO_ASSIGNEE = "malformed payload: assignee: Field required"

PullHandler = Callable[[PullRequestEvent, TriggerRules], "Trigger | Ignored"]


def diff_hunk(hunk: str | None) -> str:
    """The hunk without invisible characters; a long one keeps its end, which is the line commented on."""
    return without_invisible(hunk or "")[-MAX_HUNK:]


def review_location(comment: ReviewComment) -> ReviewLocation:
    return ReviewLocation(
        path=without_invisible(comment.path or "").replace("\n", " ")[:MAX_PATH],
        line=comment.line,
        start_line=comment.start_line,
        side=comment.side if comment.side in SIDES else None,
        diff_hunk=diff_hunk(comment.diff_hunk),
    )


def branch_hint(ref: str | None) -> str:
    """A branch name exactly as sent, or none: a hint that was altered would name another branch."""
    ref = ref or ""
    return ref if len(ref) <= MAX_REF and without_invisible(ref) == ref else ""


def _trigger(event: str, payload: PullRequestEvent, request: str, key: str, moment: datetime | None,
             **extra: Any) -> Trigger:
    pull = payload.pull_request
    return Trigger(
        event=event,
        **origin(payload),
        issue_number=pull.number,
        is_pull_request=True,
        issue_title=one_line(pull.title),
        issue_body=visible(pull.body),
        request=request or PULL_REQUEST_REQUEST,
        trigger_key=key,
        occurred_at=moment,
        head_branch=branch_hint(pull.head.ref if pull.head else None),
        base_branch=branch_hint(pull.base.ref if pull.base else None),
        **extra,
    )


def on_review_comment_created(payload: PullRequestEvent, rules: TriggerRules) -> Trigger | Ignored:
    comment = payload.comment
    if comment is None:
        return Ignored(reason="malformed payload: comment: Field required")
    request = request_after(rules.phrase, comment.body)
    if request is None:
        return Ignored(reason=f"the comment does not mention {rules.phrase}")
    key = f"{payload.repository.full_name.lower()}:review_comment:{comment.id}"
    return _trigger("pull_request_review_comment", payload, request, key, comment.created_at,
                    comment_id=comment.id, comment_kind="review_comment",
                    thread_id=comment.in_reply_to_id or comment.id, review_location=review_location(comment))


def on_review_submitted(payload: PullRequestEvent, rules: TriggerRules) -> Trigger | Ignored:
    review = payload.review
    if review is None:
        return Ignored(reason="malformed payload: review: Field required")
    request = request_after(rules.phrase, review.body)
    if request is None:
        return Ignored(reason=f"the review does not mention {rules.phrase}")
    key = f"{payload.repository.full_name.lower()}:review:{review.id}"
    return _trigger("pull_request_review", payload, request, key, review.submitted_at,
                    comment_id=review.id, comment_kind="review")


def _pull_request_event(payload: PullRequestEvent, rules: TriggerRules, detail: str, **extra: Any) -> Trigger:
    """An event on the PR itself: the request is in its body, if anywhere."""
    pull = payload.pull_request
    key = event_key(payload.repository.full_name, pull.number, payload.action, detail, pull.updated_at)
    request = request_after(rules.phrase, pull.body) or ""
    return _trigger("pull_request", payload, request, key, pull.updated_at, **extra)


def on_pull_request_assigned(payload: PullRequestEvent, rules: TriggerRules) -> Trigger | Ignored:
    if payload.assignee is None:
        return Ignored(reason=NO_ASSIGNEE)
    login = payload.assignee.login
    return _pull_request_event(payload, rules, login, assignee=login)


def on_pull_request_labeled(payload: PullRequestEvent, rules: TriggerRules) -> Trigger | Ignored:
    label = payload.label.name if payload.label else ""
    if label.lower() != rules.label.lower():
        return Ignored(reason=f"label {label!r} is not the trigger label {rules.label!r}")
    return _pull_request_event(payload, rules, label)


def on_pull_request_unlabeled(payload: PullRequestEvent, rules: TriggerRules) -> Trigger | Ignored:
    """The trigger label removed: a command to cancel what waits on the PR, not a request."""
    routed = on_pull_request_labeled(payload, rules)
    return routed.model_copy(update={"command": UNLABELED}) if isinstance(routed, Trigger) else routed


PULL_ROUTES: dict[tuple[str, str], PullHandler] = {
    ("pull_request_review_comment", "created"): on_review_comment_created,
    ("pull_request_review", "submitted"): on_review_submitted,
    ("pull_request", "assigned"): on_pull_request_assigned,
    ("pull_request", "labeled"): on_pull_request_labeled,
    ("pull_request", "unlabeled"): on_pull_request_unlabeled,
}


def route_pull_request(handler: PullHandler, payload: dict[str, Any], rules: TriggerRules) -> Trigger | Ignored:
    parsed = parse_pull_request_event(payload)
    if isinstance(parsed, Ignored):
        return parsed
    if parsed.pull_request.state == "closed":
        return Ignored(reason="the pull request is closed")
    return handler(parsed, rules)
