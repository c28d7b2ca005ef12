"""POST /webhooks/github: verify, record, answer at once. No GitHub call and no agent work here."""

from __future__ import annotations

import logging
import re
from typing import Any

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from typing_extensions import TypedDict

from bot.errors import StoreUnavailable
from bot.github import signature_valid
from bot.models import Delivery, utcnow
from bot.triggers import TriggerRules, never_a_trigger
from bot.web.body import CLOSE, BodyRefused, has_nul, read_bounded
from bot.web.context import runtime_of

log = logging.getLogger(__name__)
MAX_BODY = 25 * 1024 * 1024
# GitHub sends a GUID and a snake_case event name; anything far off is not GitHub (and a long id cannot be a key).
DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
EVENT = re.compile(r"^[a-z_]{1,64}$")


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def refuse(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None, why: str | None = None,
) -> JSONResponse:
    """Answer a refused delivery and log why (never its body): a 401 is someone's misconfiguration or a probe."""
    delivery_id = request.headers.get("x-github-delivery", "")
    reason = why or detail
    context = {"delivery_id": delivery_id[:80], "status": status, "reason": reason,
               "client": request.client.host if request.client else None}
    level = logging.WARNING if status == 401 else logging.INFO
    log.log(level, "delivery %s refused (%d): %s", delivery_id[:80] or "-", status, reason, extra=context)
    return problem(status, detail, headers)


def refusal_before_body(request: Request, secrets: tuple[str, ...]) -> JSONResponse | None:
    """What the headers alone already refuse, so an unsigned body is never read (nor buffered)."""
    delivery_id = request.headers.get("x-github-delivery")
    if not request.headers.get("x-github-event") or not delivery_id:
        return refuse(request, 400, "missing X-GitHub-Event or X-GitHub-Delivery header", CLOSE)
    if not EVENT.match(request.headers["x-github-event"]) or not DELIVERY_ID.match(delivery_id):
        return refuse(request, 400, "X-GitHub-Event or X-GitHub-Delivery is not shaped like GitHub's", CLOSE)
    if not secrets:
        return refuse(request, 401, "webhook secret not configured on the server", CLOSE,
                      why="GITHUB_WEBHOOK_SECRET is not set, so no signature can be checked")
    if not request.headers.get("x-hub-signature-256", "").startswith("sha256="):
        return refuse(request, 401, "invalid or missing X-Hub-Signature-256 signature", CLOSE)
    return None


async def receive_github(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    secrets = tuple(s.get_secret_value() for s in runtime.settings.webhook_secrets)
    refused = refusal_before_body(request, secrets)
    if refused is not None:
        return refused
    try:
        body = await read_bounded(request, MAX_BODY, runtime.settings.http_timeout_seconds)
    except BodyRefused as exc:
        return refuse(request, exc.status, exc.detail, CLOSE)
    if not signature_valid(secrets, body, request.headers.get("x-hub-signature-256")):
        return refuse(request, 401, "invalid or missing X-Hub-Signature-256 signature")
    return await _record(request, request.headers["x-github-event"], request.headers["x-github-delivery"], body)


class _Part(TypedDict, total=False):
    """The texts of a payload's part that deciding on receipt reads."""

    login: Any
    type: Any
    name: Any
    full_name: Any
    body: Any
    title: Any


class _Head(TypedDict, total=False):
    action: Any
    sender: _Part
    label: _Part
    issue: _Part
    comment: _Part
    repository: _Part


HEAD = TypeAdapter(_Head)
# What the full parse (or the NUL check after it) refuses but reading the head would let through in the
# parts it skips: NaN and Infinity, and an escaped NUL, which Postgres cannot store.
UNREAD_REFUSALS = (b"NaN", b"Infinity", b"\\u0000")


def read_head(body: bytes) -> dict[str, Any] | None:
    """Only the parts `outcome_now` reads, or None (then the whole body is parsed, which says what is wrong).

    The whole body is still checked to be JSON, but objects are made only for these few fields: about a
    third of the cost of parsing a 13 kB payload whole, on the path of every delivery.
    """
    if any(token in body for token in UNREAD_REFUSALS):
        return None
    try:
        return dict(HEAD.validate_json(body))
    except ValidationError:  # not JSON, not an object, or a part shaped unlike GitHub's: the full parse decides
        return None


def parse_payload(body: bytes) -> dict[str, Any] | None:
    """The JSON object, or None for anything else: invalid, too deep, a lone surrogate, NaN, a huge number."""
    try:
        payload = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def repo_name_of(payload: dict[str, Any]) -> str:
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name[:300] if isinstance(name, str) else ""


def outcome_now(event: str, payload: dict[str, Any], rules: TriggerRules) -> str | None:
    """The final outcome of a delivery that can never be a trigger, so it is recorded with it; None: intake's."""
    if event == "ping":
        return "ignored: ping"
    ignored = never_a_trigger(event, payload, rules)
    return f"ignored: {ignored.reason}" if ignored else None


async def _record(request: Request, event: str, delivery_id: str, body: bytes) -> JSONResponse:
    head = read_head(body)
    payload = head if head is not None else parse_payload(body)
    if payload is None:
        return refuse(request, 400, "body is not a JSON object (set the webhook's content type to application/json)")
    if has_nul(body, payload):
        return refuse(request, 400, "body holds a NUL character (\\u0000), which the store cannot hold")
    runtime = runtime_of(request)
    action = payload.get("action")
    outcome = outcome_now(event, payload, runtime.intake.rules)
    if outcome is None and head is not None:  # maybe a trigger: intake gets the whole payload
        payload = parse_payload(body) or {}
    now = utcnow()
    delivery = Delivery(
        delivery_id=delivery_id, event=event, action=action[:100] if isinstance(action, str) else "",
        repo_full_name=repo_name_of(payload), payload=payload if outcome is None else {},
        raw=body.decode() if outcome is None or runtime.settings.keep_ignored_payloads else "{}",
        outcome=outcome, received_at=now, processed_at=None if outcome is None else now,
    )
    try:
        new = await runtime.store.record_delivery(delivery)
    except StoreUnavailable as exc:
        log.error("delivery %s not recorded: %s", delivery_id, exc)
        return problem(503, "the store is unavailable; GitHub may redeliver this later")
    if not new:
        return JSONResponse({"status": "duplicate", "delivery_id": delivery_id}, status_code=200)
    if outcome is None:
        runtime.intake.submit(delivery)
    else:
        log.debug("delivery %s (%s.%s): %s", delivery_id, event, delivery.action, outcome,
                  extra={"delivery_id": delivery_id, "repo": delivery.repo_full_name or None})
    answer = "pong" if event == "ping" else "accepted"
    return JSONResponse({"status": answer, "delivery_id": delivery_id}, status_code=202)
