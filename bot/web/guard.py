"""Who may call what: webhooks and /health are public, every other route needs AWO_API_TOKEN.

The dashboard's pages take either the token (`Authorization: Bearer`) or the session cookie its login sets
(bot/web/session.py); the API under /api takes the token only, so no cookie a browser sends by itself opens it."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.web.body import CLOSE
from bot.web.session import Sessions, cookie_of

# An allow-list, so a route added later is closed until someone opens it here on purpose.
PUBLIC = {
    "/webhooks/github": frozenset({"POST"}),  # signed with GITHUB_WEBHOOK_SECRET instead
    "/health": frozenset({"GET", "HEAD"}),
    "/openapi.json": frozenset({"GET", "HEAD"}),  # describes the API, holds no data
    "/login": frozenset({"GET", "HEAD", "POST"}),  # the dashboard's login form (checks the token itself)
    "/favicon.ico": frozenset({"GET", "HEAD"}),  # what a browser asks for on any page, JSON ones included
}
STATIC = "/static/"  # the dashboard's stylesheet and scripts: no data
# The dashboard's pages and their live streams and forms: the token or the session cookie.
PAGES = ("/", "/repositories", "/costs", "/events", "/logout")
PAGE_PREFIXES = ("/work-orders/", "/repositories/")
# A cross-site navigation (a link in a GitHub comment) carries no SameSite=Strict cookie: this page reloads the
# address from our own origin, which does carry it; the reload is same-origin, so it cannot loop.
CONTINUE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0">'
            '<title>Agent Work Orders</title></head><body><p>Opening this page…</p></body></html>')
DISABLED = "the API is disabled: set AWO_API_TOKEN and send it as `Authorization: Bearer <token>`"


def is_public(method: str, path: str) -> bool:
    return method in PUBLIC.get(path, frozenset()) or (method in ("GET", "HEAD") and path.startswith(STATIC))


def is_page(path: str) -> bool:
    return path in PAGES or path.startswith(PAGE_PREFIXES)


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

    def __init__(self, app: ASGIApp, token: str | None, sessions: Sessions | None = None) -> None:
        self.app = app
        self.expected = token.encode() if token else None
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
        elif is_page(scope["path"]):
            await self.page(scope, receive, send)
        elif self.expected is None:
            await JSONResponse({"detail": DISABLED}, status_code=403, headers=CLOSE)(scope, receive, send)
        elif not token_matches(scope["headers"], self.expected):
            await JSONResponse({"detail": "missing or wrong API token"}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer", **CLOSE})(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A dashboard page: the token, or a live session (kept in the scope for the forms' CSRF check)."""
        headers = scope["headers"]
        if self.expected is not None and token_matches(headers, self.expected):
            await self.app(scope, receive, send)
            return
        session = self.sessions.check(cookie_of(headers)) if self.sessions is not None else None
        if session is not None:
            scope.setdefault("state", {})["session"] = session
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await JSONResponse({"detail": "log in first (or send the API token)"}, status_code=401,
                               headers={"WWW-Authenticate": "Bearer", **CLOSE})(scope, receive, send)
            return
        fetch_site = dict(headers).get(b"sec-fetch-site")
        if fetch_site == b"cross-site" and self.expected is not None:
            page = HTMLResponse(CONTINUE, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
            await page(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        wanted = scope["path"] + (f"?{query}" if query else "")
        await RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)(scope, receive, send)
