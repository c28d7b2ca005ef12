"""The Starlette app factory; the lifespan starts and stops the process's Runtime."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.runtime import Runtime
from bot.web import api, deliveries
from bot.web.health import health
from bot.web.webhooks import receive_github

log = logging.getLogger(__name__)


class ApiToken:
    """With AWO_API_TOKEN set, the REST API needs `Authorization: Bearer <token>` (webhooks are signed)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected and scope["type"] == "http" and scope["path"].startswith(api.PREFIX):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await JSONResponse({"detail": "missing or wrong API token"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app(runtime: Runtime) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    token = runtime.settings.api_token.get_secret_value() if runtime.settings.api_token else None
    app = Starlette(
        routes=[
            Route("/webhooks/github", receive_github, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            *deliveries.routes,  # before api.routes, whose /{id} would take "deliveries" for an id
            *api.routes,
        ],
        middleware=[Middleware(ApiToken, token=token)],
        exception_handlers={500: server_error},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
