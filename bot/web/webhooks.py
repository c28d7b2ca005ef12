"""POST /webhooks/github: verify, record, answer at once. No GitHub call and no agent work here."""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.errors import StoreUnavailable
from bot.github import signature_valid
from bot.models import Delivery
from bot.web.context import runtime_of

log = logging.getLogger(__name__)
MAX_BODY = 25 * 1024 * 1024


class TooLarge(Exception):
    """The body passed the size limit while it was being read."""


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def read_limited(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused as soon as it passes `limit` (a declared length is checked before reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_github(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    event = request.headers.get("x-github-event")
    delivery_id = request.headers.get("x-github-delivery")
    if not event or not delivery_id:
        return problem(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    try:
        body = await read_limited(request)
    except TooLarge:
        return problem(413, f"payload larger than {MAX_BODY // (1024 * 1024)} MB")
    secrets = tuple(s.get_secret_value() for s in runtime.settings.webhook_secrets)
    if not secrets:
        log.warning("delivery %s refused: GITHUB_WEBHOOK_SECRET is not set, so no signature can be checked",
                    delivery_id)
        return problem(401, "webhook secret not configured on the server")
    if not signature_valid(secrets, body, request.headers.get("x-hub-signature-256")):
        return problem(401, "invalid or missing X-Hub-Signature-256 signature")
    return await _record(request, event, delivery_id, body)


async def _record(request: Request, event: str, delivery_id: str, body: bytes) -> JSONResponse:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return problem(400, "body is not JSON (set the webhook's content type to application/json)")
    if not isinstance(payload, dict):
        return problem(400, "body is not a JSON object")
    repository = payload.get("repository")  # a signed payload may still be malformed: intake says so later
    delivery = Delivery(
        delivery_id=delivery_id, event=event, action=str(payload.get("action") or "")[:100],
        repo_full_name=str(repository.get("full_name") or "")[:300] if isinstance(repository, dict) else "",
        payload=payload,
    )
    runtime = runtime_of(request)
    try:
        new = await runtime.store.record_delivery(delivery)
    except StoreUnavailable as exc:
        log.error("delivery %s not recorded: %s", delivery_id, exc)
        return problem(503, "the store is unavailable; GitHub may redeliver this later")
    if not new:
        return JSONResponse({"status": "duplicate", "delivery_id": delivery_id}, status_code=200)
    runtime.intake.submit(delivery)
    answer = "pong" if event == "ping" else "accepted"
    return JSONResponse({"status": answer, "delivery_id": delivery_id}, status_code=202)
