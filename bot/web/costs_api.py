"""GET /api/agent-work-orders/costs: what each repository spent per UTC day, from the spend ledger (costs page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.models import utcnow
from bot.store import DailySpend, spend_range
from bot.web.api import PREFIX, guarded, query_of
from bot.web.context import runtime_of

DEFAULT_DAYS = 30  # without `since`: the 30 days before `until`


class CostQuery(BaseModel):
    """The range [since, until) (times without a zone are UTC; until defaults to now, since to 30 days before it),
    at most 366 days long, and optionally one repository (owner/name)."""

    model_config = ConfigDict(extra="ignore")

    since: datetime | None = None
    until: datetime | None = None
    repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

    @model_validator(mode="after")
    def _range(self) -> CostQuery:
        """Both ends set, in UTC, checked as the stores check them, so a bad range is a 422 naming it."""
        try:
            until = self.until or utcnow()
            since = self.since or _in_utc(until) - timedelta(days=DEFAULT_DAYS)
            self.since, self.until = spend_range(since, until)
        except OverflowError:  # a time near year 1 or 9999, moved to UTC or 30 days back
            raise ValueError("since and until must be times between the years 1 and 9999") from None
        return self


def _in_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_json(day: DailySpend) -> dict[str, Any]:
    return {"day": day.day.isoformat(), "repository": day.repo_full_name, "cost_usd": day.cost_usd,
            "steps": day.steps, "work_orders": day.work_orders}


async def costs(request: Request) -> Response:
    query = query_of(request, CostQuery)
    assert query.since is not None and query.until is not None  # the validator set both
    days = await runtime_of(request).store.daily_spend(query.since, query.until, query.repository)
    return JSONResponse({
        "since": query.since.isoformat(), "until": query.until.isoformat(), "days": [day_json(d) for d in days],
        "total_usd": round(sum(d.cost_usd for d in days), 6),
    })


routes = [Route(f"{PREFIX}/costs", guarded(costs), methods=["GET"])]
