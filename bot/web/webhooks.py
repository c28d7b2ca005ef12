"""POST /webhooks/github: verify, record, answer at once. No GitHub call and no agent work here."""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, NamedTuple

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send
from typing_extensions import TypedDict

from bot.errors import StoreUnavailable
from bot.github import signature_valid
from bot.models import Delivery, utcnow
from bot.triggers import TriggerRules, never_a_trigger
from bot.web.body import CLOSE, BodyRefused, has_nul, read_body

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)
PATH = "/webhooks/github"
MAX_BODY = 25 * 1024 * 1024
# GitHub sends a GUID and a snake_case event name; anything far off is not GitHub (and a long id cannot be a key).
DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
EVENT = re.compile(r"^[a-z_]{1,64}$")
# The only headers read: found in one pass over the request's, the first of each name counting.
WANTED = frozenset({b"x-github-event", b"x-github-delivery", b"x-hub-signature-256", b"content-length"})


class Incoming:
    """A delivery as it arrives: the ASGI request's few headers that matter, and where its body comes from.

    The webhook is answered without Starlette's Request, middleware and router: on the path of every
    delivery, they cost more than the one durable write the answer waits for."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.runtime: Runtime = scope["app"].state.runtime
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in WANTED and name not in found:
                found[name] = value.decode("latin-1")
        self.event = found.get(b"x-github-event", "")
        self.delivery_id = found.get(b"x-github-delivery", "")
        self.signature = found.get(b"x-hub-signature-256", "")
        self.length = found.get(b"content-length", "")

    @property
    def client(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None


class Answer(NamedTuple):
    status: int
    content: dict[str, str]
    headers: dict[str, str] | None = None

    async def __call__(self, send: Send) -> None:
        """Sent as Starlette's JSONResponse would be, without building one."""
        body = json.dumps(self.content, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (self.headers or {}).items()]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"detail": detail}, headers)


def refuse(
    incoming: Incoming, status: int, detail: str, headers: dict[str, str] | None = None, why: str | None = None,
) -> Answer:
    """Answer a refused delivery and log why (never its body): a 401 is someone's misconfiguration or a probe."""
    delivery_id = incoming.delivery_id
    reason = why or detail
    context = {"delivery_id": delivery_id[:80], "status": status, "reason": reason, "client": incoming.client}
    level = logging.WARNING if status == 401 else logging.INFO
    log.log(level, "delivery %s refused (%d): %s", delivery_id[:80] or "-", status, reason, extra=context)
    return problem(status, detail, headers)


def refusal_before_body(incoming: Incoming, secrets: tuple[str, ...]) -> Answer | None:
    """What the headers alone already refuse, so an unsigned body is never read (nor buffered)."""
    if not incoming.event or not incoming.delivery_id:
        return refuse(incoming, 400, "missing X-GitHub-Event or X-GitHub-Delivery header", CLOSE)
    if not EVENT.match(incoming.event) or not DELIVERY_ID.match(incoming.delivery_id):
        return refuse(incoming, 400, "X-GitHub-Event or X-GitHub-Delivery is not shaped like GitHub's", CLOSE)
    if not secrets:
        return refuse(incoming, 401, "webhook secret not configured on the server", CLOSE,
                      why="GITHUB_WEBHOOK_SECRET is not set, so no signature can be checked")
    if not incoming.signature.startswith("sha256="):
        return refuse(incoming, 401, "invalid or missing X-Hub-Signature-256 signature", CLOSE)
    return None


class Webhooks:
    """Middleware that takes `POST /webhooks/github` before the rest of the app; everything else goes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            await receive_github(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class Endpoint:
    """The route's endpoint (an ASGI app, not a function), so the router still knows the path and answers
    405 to other methods; POSTs are taken by `Webhooks` before they reach it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive_github(scope, receive, send)


async def receive_github(scope: Scope, receive: Receive, send: Send) -> None:
    incoming = Incoming(scope, receive)
    await (await _answer(incoming))(send)


async def _answer(incoming: Incoming) -> Answer:
    runtime = incoming.runtime
    secrets = runtime.settings.webhook_secret_values
    refused = refusal_before_body(incoming, secrets)
    if refused is not None:
        return refused
    try:
        body = await read_body(incoming.receive, incoming.length, MAX_BODY, runtime.settings.http_timeout_seconds)
    except BodyRefused as exc:
        return refuse(incoming, exc.status, exc.detail, CLOSE)
    if not signature_valid(secrets, body, incoming.signature):
        return refuse(incoming, 401, "invalid or missing X-Hub-Signature-256 signature")
    return await _record(incoming, body)


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
    review: _Part
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


async def _record(incoming: Incoming, body: bytes) -> Answer:
    head = read_head(body)
    payload = head if head is not None else parse_payload(body)
    if payload is None:
        return refuse(incoming, 400, "body is not a JSON object (set the webhook's content type to application/json)")
    if head is None and has_nul(body, payload):  # a head was read only from a body without an escaped NUL
        return refuse(incoming, 400, "body holds a NUL character (\\u0000), which the store cannot hold")
    runtime = incoming.runtime
    event, delivery_id = incoming.event, incoming.delivery_id
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
        runtime.metrics.delivery(event, "duplicate")
        return Answer(200, {"status": "duplicate", "delivery_id": delivery_id})
    if outcome is None:
        runtime.intake.submit(delivery)  # intake counts it once it has decided
    else:
        runtime.metrics.delivery(event, outcome)
        log.debug("delivery %s (%s.%s): %s", delivery_id, event, delivery.action, outcome,
                  extra={"delivery_id": delivery_id, "repo": delivery.repo_full_name or None})
    return Answer(202, {"status": "pong" if event == "ping" else "accepted", "delivery_id": delivery_id})
