"""Who may call what: webhooks and /health are public, every other route needs AWO_API_TOKEN."""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.web.body import CLOSE

# An allow-list, so a route added later is closed until someone opens it here on purpose.
PUBLIC = {
    "/webhooks/github": frozenset({"POST"}),  # signed with GITHUB_WEBHOOK_SECRET instead
    "/health": frozenset({"GET", "HEAD"}),
    "/openapi.json": frozenset({"GET", "HEAD"}),  # describes the API, holds no data
}
DISABLED = "the API is disabled: set AWO_API_TOKEN and send it as `Authorization: Bearer <token>`"


def is_public(method: str, path: str) -> bool:
    return method in PUBLIC.get(path, frozenset())


def bearer_of(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The credentials of the first `Authorization: Bearer ...` header (scheme case-insensitive)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.strip().partition(b" ")
            return credentials.strip() if scheme.lower() == b"bearer" else None
    return None


def token_matches(headers: list[tuple[bytes, bytes]], expected: bytes) -> bool:
    given = bearer_of(headers)
    return given is not None and hmac.compare_digest(given, expected)


class ApiToken:
    """Refuses every non-public request without the right bearer token; with no token set, refuses them all."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
        elif self.expected is None:
            await JSONResponse({"detail": DISABLED}, status_code=403, headers=CLOSE)(scope, receive, send)
        elif not token_matches(scope["headers"], self.expected):
            await JSONResponse({"detail": "missing or wrong API token"}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer", **CLOSE})(scope, receive, send)
        else:
            await self.app(scope, receive, send)
