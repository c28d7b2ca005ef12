"""The Starlette app factory; the lifespan starts and stops the process's Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.runtime import Runtime
from bot.web import api, archon_api, control_api, costs_api, dashboard, deliveries, logs_api, metrics, openapi
from bot.web.guard import ApiToken
from bot.web.health import health
from bot.web.session import Sessions
from bot.web.webhooks import PATH, Endpoint, Webhooks

log = logging.getLogger(__name__)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """404, 405 and the like as `{"detail": ...}`, like every other error of the API (not plain text)."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(runtime: Runtime) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    token = runtime.settings.api_token.get_secret_value() if runtime.settings.api_token else None
    sessions = Sessions(token) if token else None  # the dashboard's logins: none without a token to log in with
    app = Starlette(
        routes=[
            Route(PATH, Endpoint(), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            *deliveries.routes,  # before api.routes, whose /{id} would take "deliveries" for an id
            *archon_api.routes,  # likewise for "github"
            *costs_api.routes,  # and for "costs"
            *api.routes,
            *control_api.routes,
            *logs_api.routes,
            *metrics.routes,
            *openapi.routes,
            *dashboard.routes,  # the pages: /, /work-orders/{id}, /repositories, /costs, /login
        ],
        middleware=[Middleware(Webhooks), Middleware(ApiToken, token=token, sessions=sessions)],
        exception_handlers={HTTPException: http_error, 500: server_error},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.sessions = sessions
    return app
