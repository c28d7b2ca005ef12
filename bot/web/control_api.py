"""POST /api/agent-work-orders/{id}/cancel and /retry: the same actions as `@claude stop` and `@claude retry`.

Guarded like the rest of the API (the token, the error mapping): 404 for an unknown id, 409 with the reason when
the work order cannot be cancelled (it has ended) or retried (it is not failed or cancelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.commands import Outlet, cancel, retry
from bot.models import Status
from bot.web.api import PREFIX, guarded, path_id, work_order_json
from bot.web.context import runtime_of

if TYPE_CHECKING:
    from bot.runtime import Runtime


def outlet_of(runtime: Runtime) -> Outlet:
    return Outlet(runtime.github, runtime.services.secrets, runtime.services.public_url)


async def cancel_work_order(request: Request) -> Response:
    runtime = runtime_of(request)
    work_order = await cancel(runtime.store, outlet_of(runtime), path_id(request))
    if work_order.status is Status.CANCELLED:
        return JSONResponse({**work_order_json(work_order), "message": "work order cancelled"})
    message = "stop requested: the worker running it ends it cancelled within seconds"
    return JSONResponse({**work_order_json(work_order), "message": message}, status_code=202)


async def retry_work_order(request: Request) -> Response:
    runtime = runtime_of(request)
    notify = runtime.worker.notify if runtime.worker is not None else (lambda: None)
    work_order = await retry(runtime.store, outlet_of(runtime), path_id(request),
                             runtime.settings.max_attempts, notify)
    return JSONResponse({**work_order_json(work_order), "message": "work order queued again"})


routes = [
    Route(f"{PREFIX}/{{id}}/cancel", guarded(cancel_work_order), methods=["POST"]),
    Route(f"{PREFIX}/{{id}}/retry", guarded(retry_work_order), methods=["POST"]),
]
