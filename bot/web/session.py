"""The dashboard's login: a signed session cookie issued for AWO_API_TOKEN, and the CSRF token of its forms.

The cookie never holds the API token. It is `v1.<issued>.<nonce>.<mac>`, the mac an HMAC-SHA256 under a key derived
from the token, so changing AWO_API_TOKEN ends every session, and a session expires SESSION_SECONDS after login.
It is HttpOnly (no script reads it), SameSite=Strict (no other site's page or form sends it) and Secure when the
dashboard is served over https. Every form carries a CSRF token (an HMAC of the session's nonce) which a POST must
repeat, and a POST whose Origin (or Sec-Fetch-Site) names another site is refused before the token is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

COOKIE = "awo_session"
SESSION_SECONDS = 12 * 3600
VERSION = "v1"
LOGIN_FAILURES_PER_MINUTE = 10  # per process; past it a login is a 429 until the minute has passed


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    nonce: str
    issued: int


class Sessions:
    """Issues and checks session cookies and CSRF tokens for one API token."""

    def __init__(self, api_token: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(api_token.encode(), b"awo dashboard session v1", hashlib.sha256).digest()
        self._token = api_token.encode()
        self._clock = clock
        self._failures: deque[float] = deque()

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def issue(self) -> str:
        body = f"{VERSION}.{int(self._clock())}.{_b64(secrets.token_bytes(18))}"
        return f"{body}.{self._mac(body)}"

    def check(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged, from another token, or expired."""
        if not cookie or len(cookie) > 200:
            return None
        body, _, mac = cookie.rpartition(".")
        version, _, rest = body.partition(".")
        issued_text, _, nonce = rest.partition(".")
        if version != VERSION or not issued_text.isdecimal() or not nonce:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        issued = int(issued_text)
        if not issued <= self._clock() + 60 or self._clock() - issued > SESSION_SECONDS:
            return None
        return Session(nonce, issued)

    def csrf_token(self, session: Session) -> str:
        return self._mac(f"csrf.{session.nonce}")

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf_token(session).encode())

    def token_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def login_allowed(self) -> bool:
        """False while more than LOGIN_FAILURES_PER_MINUTE wrong tokens came in the last minute."""
        now = self._clock()
        while self._failures and now - self._failures[0] > 60:
            self._failures.popleft()
        return len(self._failures) < LOGIN_FAILURES_PER_MINUTE

    def failed_login(self) -> None:
        self._failures.append(self._clock())


def cookie_header(value: str, *, secure: bool, max_age: int = SESSION_SECONDS) -> str:
    flags = f"Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={value}; {flags}{'; Secure' if secure else ''}"


def cookie_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The session cookie's value among a request's Cookie headers (the first one named awo_session)."""
    for name, value in headers:
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, found = part.strip().partition("=")
            if key == COOKIE:
                return found
    return None


def same_origin(headers: dict[str, str], host: str) -> bool:
    """A form POST from one of our own pages. A browser says where a request comes from in Sec-Fetch-Site, which
    no page can set: that decides. Without it (an older browser), the Origin must be this host (a browser sends
    "null" under some referrer policies: refused). A request with neither (a script) is left to the CSRF token."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only, never `//host` or `/\\host` (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(
            c in target for c in "\r\n\t\\"):
        return "/"
    return target[:2000]
