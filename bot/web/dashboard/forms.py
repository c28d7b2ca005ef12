"""The dashboard's query strings and form bodies: parsed into models, bounded, and (for a session) CSRF-checked."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request

from bot.models import Status
from bot.store import Cursor, ListFilter
from bot.web.api import ISSUE_NUMBER_MAX, Refused
from bot.web.body import BodyRefused, read_bounded
from bot.web.context import runtime_of
from bot.web.dashboard.render import session_of, sessions_of
from bot.web.session import same_origin

M = TypeVar("M", bound=BaseModel)
FORM_BYTES = 16 * 1024
PAGE_ROWS = 50


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class ListFilters(BaseModel):
    """The list page's filters, as its form sends them (empty fields are unset; dates are whole UTC days)."""

    model_config = ConfigDict(extra="ignore")

    status: Status | None = None
    repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", max_length=200)
    issue: int | None = Field(None, gt=0, le=ISSUE_NUMBER_MAX)
    since: date | None = None
    until: date | None = None
    cursor: str | None = Field(None, max_length=200)

    _blanks = field_validator("status", "repository", "issue", "since", "until", "cursor", mode="before")(
        _blank_is_none)

    @field_validator("repository", mode="before")
    @classmethod
    def _trim(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            Cursor.decode(value)
        return value

    def where(self) -> ListFilter:
        since = datetime.combine(self.since, time(), UTC) if self.since else None
        until = datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None  # inclusive
        return ListFilter(self.repository, self.issue if self.repository else None, since, until)

    def query(self, **changes: str | None) -> dict[str, str]:
        """These filters as query parameters (unset ones left out), with `changes` applied."""
        values = {k: (str(v) if v is not None else None) for k, v in self.model_dump(mode="json").items()}
        values.update(changes)
        return {k: v for k, v in values.items() if v}


class CostFilters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", max_length=200)
    since: date | None = None
    until: date | None = None

    _blanks = field_validator("repository", "since", "until", mode="before")(_blank_is_none)

    def bounds(self, today: date) -> tuple[date, date]:
        """The days shown, both included: the last 30 unless given."""
        until = self.until or today
        return (self.since or until - timedelta(days=29)), until


def filters_of(request: Request, model: type[M]) -> tuple[M, str | None]:
    """The query string as `model`; when it does not fit, the model's defaults and what was wrong."""
    try:
        return model.model_validate(dict(request.query_params)), None
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'query'}: {e['msg']}" for e in exc.errors())
        return model.model_validate({}), wrong


async def form_of(request: Request) -> dict[str, str]:
    """A form POST's fields, after the same-origin and CSRF checks (a caller with the API token skips the CSRF
    token: a bearer header is never sent by a browser on its own)."""
    host = request.headers.get("host", "")
    if not same_origin({k.lower(): v for k, v in request.headers.items()}, host):
        raise Refused(403, "this form was sent from another site")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise Refused(415, "send the form as application/x-www-form-urlencoded")
    try:
        body = await read_bounded(request, FORM_BYTES, runtime_of(request).settings.http_timeout_seconds)
    except BodyRefused as exc:
        raise Refused(exc.status, exc.detail) from None
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form could not be read") from None
    session, sessions = session_of(request), sessions_of(request)
    if session is not None and (sessions is None or not sessions.csrf_ok(session, fields.get("csrf"))):
        raise Refused(403, "this form has expired: reload the page and send it again")
    return fields
