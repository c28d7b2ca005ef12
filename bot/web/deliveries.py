"""GET /api/agent-work-orders/deliveries[/{id}]: what intake did with each webhook delivery, and why."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.models import Delivery
from bot.web.api import PREFIX, PageQuery, guarded, problem, query_of
from bot.web.context import runtime_of

OUTCOME = re.compile(r"^[a-z]{1,20}$")  # the outcome's first word: queued, ignored, refused, duplicate, failed
MAX_LIMIT = 500


def shown(delivery: Delivery, with_payload: bool = False) -> dict[str, Any]:
    return delivery.model_dump(mode="json", exclude=None if with_payload else {"payload"})


class DeliveryPage(PageQuery):
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


async def list_deliveries(request: Request) -> Response:
    page = query_of(request, DeliveryPage)
    outcome = request.query_params.get("outcome")
    if outcome is not None and not OUTCOME.match(outcome):
        return problem(422, "outcome must be the outcome's first word, e.g. failed, queued or ignored")
    found = await runtime_of(request).store.list_deliveries(page.limit, outcome, page.offset)
    return JSONResponse([shown(d) for d in found], headers=page.next_link(request, len(found)))


async def get_delivery(request: Request) -> Response:
    delivery = await runtime_of(request).store.get_delivery(request.path_params["delivery_id"])
    return JSONResponse(shown(delivery, request.query_params.get("payload") == "true"))


routes = [
    Route(f"{PREFIX}/deliveries", guarded(list_deliveries), methods=["GET"]),
    Route(f"{PREFIX}/deliveries/{{delivery_id}}", guarded(get_delivery), methods=["GET"]),
]
