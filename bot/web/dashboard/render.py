"""Jinja2 for the dashboard: autoescaped templates, the few filters they use, and the headers every page gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot import __version__
from bot.web.session import Session, Sessions

HERE = Path(__file__).parent
STATIC = HERE / "static"
# No inline script or style, nothing from elsewhere: an injected tag in a work order's text could not run.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # our own pages only: a link out (GitHub) gets no address of ours
    "Cache-Control": "no-store", "X-Frame-Options": "DENY",
}


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def clock(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%H:%M:%S") if value else ""


def money(value: float | None) -> str:
    return f"${value:.4f}" if value else "$0"


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def took(start: datetime | None, end: datetime | None) -> str:
    return seconds((end - start).total_seconds()) if start and end else ""


def turns(count: int | None) -> str:
    return f"{count or 0} turn{'' if count == 1 else 's'}"


environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                          trim_blocks=True, lstrip_blocks=True)
environment.filters.update(when=when, clock=clock, money=money, seconds=seconds, turns=turns)
environment.globals.update(took=took, version=__version__)


def session_of(request: Request) -> Session | None:
    return request.scope.get("state", {}).get("session")


def sessions_of(request: Request) -> Sessions | None:
    return getattr(request.app.state, "sessions", None)


def csrf_of(request: Request) -> str:
    """The CSRF token for this page's forms ("" for a caller with the API token, whose POSTs need none)."""
    session, sessions = session_of(request), sessions_of(request)
    return sessions.csrf_token(session) if session and sessions else ""


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    html = environment.get_template(template).render(request=request, csrf=csrf_of(request),
                                                     signed_in=session_of(request) is not None, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def fragment(template: str, context: dict[str, Any]) -> str:
    return environment.get_template(template).render(**context)
