"""The dashboard's pages: login, the work orders (filtered, paged, live), one work order's live timeline with
cancel and retry, the configured repositories, and the costs per repository per day.

Pages are rendered on the server (Jinja2, autoescaped); two small scripts keep them live over Server-Sent Events
(bot/web/dashboard/live.py). Forms are plain POSTs with a CSRF token, answered with a redirect (303).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.errors import Conflict, GitHubError, NotFound
from bot.models import Status
from bot.store import Cursor, spend_range
from bot.web.api import CreateRepository, Refused, configure_repository, get_work_order, path_id, verify_again
from bot.web.context import runtime_of
from bot.web.control_api import outlet_of
from bot.web.dashboard.forms import PAGE_ROWS, CostFilters, ListFilters, filters_of, form_of
from bot.web.dashboard.render import page, sessions_of
from bot.web.session import COOKIE, cookie_header, safe_next
from bot.worklog import Doing, doing

log = logging.getLogger(__name__)
STATUSES = [str(s) for s in Status]
NOTICES = {  # a redirect names one of these, never free text (a link cannot make the page say anything else)
    "cancelled": "Work order cancelled.",
    "stop-requested": "Stop requested: the worker running it ends it within seconds.",
    "retried": "Work order queued again.",
    "added": "Repository added.",
    "verified": "Repository verified on GitHub.",
    "removed": "Repository removed.",
}
LOG_ROWS = 1000  # a page shows this many log entries at most; the stream adds the newer ones


def secure(request: Request) -> bool:
    public = runtime_of(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def back(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'notice': notice})}", status_code=303)


async def refused(request: Request, exc: Refused) -> Response:
    return page(request, "error.html", {"title": "Not done", "message": str(exc.detail)}, exc.status)


# ---- login ------------------------------------------------------------------------------------------------------

async def login_form(request: Request) -> Response:
    sessions = sessions_of(request)
    target = safe_next(request.query_params.get("next"))
    if sessions is None:
        return page(request, "login.html", {"disabled": True, "next": target}, 403)
    if sessions.check(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    return page(request, "login.html", {"next": target})


async def login(request: Request) -> Response:
    sessions = sessions_of(request)
    if sessions is None:
        return page(request, "login.html", {"disabled": True, "next": "/"}, 403)
    try:
        fields = await form_of(request)
    except Refused as exc:
        return page(request, "login.html", {"error": str(exc.detail), "next": "/"}, exc.status)
    target = safe_next(fields.get("next"))
    if not sessions.login_allowed():
        return page(request, "login.html", {"error": "Too many wrong tokens: wait a minute.", "next": target}, 429)
    if not sessions.token_ok(fields.get("token", "")):
        sessions.failed_login()
        log.warning("dashboard: a login with a wrong token from %s", request.client.host if request.client else "?")
        return page(request, "login.html", {"error": "That is not the API token (AWO_API_TOKEN).", "next": target},
                    401)
    answer = RedirectResponse(target, status_code=303)
    answer.headers.append("Set-Cookie", cookie_header(sessions.issue(), secure=secure(request)))
    return answer


async def logout(request: Request) -> Response:
    try:
        await form_of(request)
    except Refused as exc:
        return await refused(request, exc)
    answer = RedirectResponse("/login", status_code=303)
    answer.headers.append("Set-Cookie", cookie_header("", secure=secure(request), max_age=0))
    return answer


# ---- work orders ------------------------------------------------------------------------------------------------

async def list_rows(request: Request, filters: ListFilters) -> dict[str, Any]:
    """The rows of one page and the link to the next (a keyset cursor: as fast at row 100,000 as at row 1)."""
    store = runtime_of(request).store
    cursor = Cursor.decode(filters.cursor) if filters.cursor else None
    orders = await store.list_work_orders(filters.status, PAGE_ROWS, where=filters.where(), cursor=cursor)
    following = None
    if len(orders) == PAGE_ROWS:
        following = "/?" + urlencode(filters.query(cursor=Cursor.after(orders[-1]).encode()))
    return {"orders": orders, "next_page": following}


async def work_orders(request: Request) -> Response:
    filters, wrong = filters_of(request, ListFilters)
    rows = await list_rows(request, filters)
    live = "/events?" + urlencode(filters.query(cursor=None)) if not filters.cursor else ""
    first = "/?" + urlencode(filters.query(cursor=None)) if filters.cursor else None
    return page(request, "list.html", {"title": "Work orders", "filters": filters, "statuses": STATUSES,
                                       "wrong": wrong, "live": live, "first_page": first, **rows},
                422 if wrong else 200)


async def work_order(request: Request) -> Response:
    """The page; a client that does not ask for HTML (a script with the token) gets the work order's JSON."""
    if "text/html" not in request.headers.get("accept", ""):
        return await get_work_order(request)  # type: ignore[no-any-return]
    store = runtime_of(request).store
    try:
        order = await store.get_work_order(path_id(request))
    except NotFound as exc:
        return page(request, "error.html", {"title": "Not found", "message": str(exc)}, 404)
    steps = await store.list_steps(order.id)
    entries = await store.list_logs(order.id, 0, LOG_ROWS)
    after = entries[-1].id if entries else 0
    now = Doing()
    if order.status is Status.RUNNING:  # what it is doing: from the entries read for the timeline, then the rest
        now.over(entries)
        if len(entries) == LOG_ROWS:
            now = await doing(store, order, after=after, start=now)
    return page(request, "detail.html", {
        "cost": max(order.total_cost_usd, now.cost_so_far),
        "title": f"Work order {order.short_id}", "order": order, "steps": steps, "entries": entries,
        "current": now.shown(), "notice": notice_of(request), "after": after,
        "issue_url": issue_url(order.repository_url, order.issue_number),
    })


def issue_url(repository_url: str, number: int | None) -> str | None:
    return f"{repository_url.rstrip('/')}/issues/{number}" if number and repository_url.startswith("http") else None


async def cancel(request: Request) -> Response:
    from bot.commands import cancel as cancel_order

    try:
        await form_of(request)
        runtime = runtime_of(request)
        order = await cancel_order(runtime.store, outlet_of(runtime), path_id(request))
    except Refused as exc:
        return await refused(request, exc)
    except (Conflict, NotFound) as exc:
        return page(request, "error.html", {"title": "Not cancelled", "message": str(exc)},
                    409 if isinstance(exc, Conflict) else 404)
    return back(f"/work-orders/{order.id}", "cancelled" if order.status is Status.CANCELLED else "stop-requested")


async def retry(request: Request) -> Response:
    from bot.commands import retry as retry_order

    try:
        await form_of(request)
        runtime = runtime_of(request)
        notify = runtime.worker.notify if runtime.worker is not None else (lambda: None)
        order = await retry_order(runtime.store, outlet_of(runtime), path_id(request),
                                  runtime.settings.max_attempts, notify)
    except Refused as exc:
        return await refused(request, exc)
    except (Conflict, NotFound) as exc:
        return page(request, "error.html", {"title": "Not retried", "message": str(exc)},
                    409 if isinstance(exc, Conflict) else 404)
    return back(f"/work-orders/{order.id}", "retried")


# ---- repositories -----------------------------------------------------------------------------------------------

async def repositories(request: Request, error: str | None = None, status: int = 200) -> Response:
    repos = await runtime_of(request).store.list_repositories()
    return page(request, "repositories.html", {"title": "Repositories", "repositories": repos, "error": error,
                                               "notice": notice_of(request)}, status)


async def repository_form(request: Request, action: Callable[[], Awaitable[object]], notice: str) -> Response:
    """A repositories form: checked (origin, CSRF), done, and answered with the page again, saying what went wrong
    with the status the API would give, or a redirect to it with the notice."""
    try:
        await action()
    except Refused as exc:
        return await repositories(request, str(exc.detail), exc.status)
    except (Conflict, NotFound) as exc:
        return await repositories(request, str(exc), 409 if isinstance(exc, Conflict) else 404)
    except GitHubError as exc:
        return await repositories(request, f"GitHub: {exc}", exc.status if exc.status in (404, 503) else 502)
    return back("/repositories", notice)


async def add_repository(request: Request) -> Response:
    async def add() -> None:
        fields = await form_of(request)
        text = fields.get("repository_url", "").strip()
        if not text or len(text) > 500 or "@" in text.partition("://")[2].partition("/")[0]:
            raise Refused(422, "name a repository as owner/name or its https URL (no credentials in it)")
        try:  # the API's own checks of a repository to add, then what the API does with it
            body = CreateRepository(repository_url=text, verify=bool(fields.get("verify")))
            await configure_repository(request, body)
        except (ValidationError, ValueError) as exc:
            raise Refused(422, problem_of(exc)) from None

    return await repository_form(request, add, "added")


async def verify(request: Request) -> Response:
    async def check() -> None:
        await form_of(request)
        await verify_again(request)

    return await repository_form(request, check, "verified")


async def remove(request: Request) -> Response:
    async def delete() -> None:
        await form_of(request)
        await runtime_of(request).store.delete_repository(path_id(request))

    return await repository_form(request, delete, "removed")


async def repositories_page(request: Request) -> Response:
    return await repositories(request)


# ---- costs ------------------------------------------------------------------------------------------------------

async def costs(request: Request) -> Response:
    filters, wrong = filters_of(request, CostFilters)
    today = datetime.now(UTC).date()
    first, last = filters.bounds(today)
    try:  # the store's own bounds on a range (at most a year), checked before it is asked
        since, until = spend_range(*whole_days(first, last))
    except ValueError:
        wrong = wrong or "pick at most a year, the first day before the last"
        first, last = CostFilters.model_validate({}).bounds(today)
        since, until = whole_days(first, last)
    days = await runtime_of(request).store.daily_spend(since, until, filters.repository)
    totals: dict[str, float] = {}
    for day in days:
        totals[day.repo_full_name] = totals.get(day.repo_full_name, 0.0) + day.cost_usd
    return page(request, "costs.html", {
        "title": "Costs", "days": days, "totals": sorted(totals.items(), key=lambda kv: -kv[1]),
        "total": sum(totals.values()), "first": first, "last": last, "filters": filters, "wrong": wrong,
    }, 422 if wrong else 200)



def whole_days(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in UTC: both days included."""
    return datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC)


def problem_of(exc: ValueError) -> str:
    """A refused value in a sentence (a model's complaints joined, without pydantic's decoration)."""
    if isinstance(exc, ValidationError):
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
    return str(exc)
