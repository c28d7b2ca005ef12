"""The operator's dashboard, served by the bot itself: see views.py (pages and forms) and live.py (streams)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web.api import guarded
from bot.web.dashboard import live, views
from bot.web.dashboard.render import STATIC


async def favicon(request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


routes = [
    Route("/favicon.ico", favicon, methods=["GET"]),
    Route("/", views.work_orders, methods=["GET"]),
    Route("/login", views.login_form, methods=["GET"]),
    Route("/login", views.login, methods=["POST"]),
    Route("/logout", views.logout, methods=["POST"]),
    Route("/events", guarded(live.list_events), methods=["GET"]),
    Route("/work-orders/{id}", guarded(views.work_order), methods=["GET"]),
    Route("/work-orders/{id}/events", guarded(live.work_order_events), methods=["GET"]),
    Route("/work-orders/{id}/cancel", views.cancel, methods=["POST"]),
    Route("/work-orders/{id}/retry", views.retry, methods=["POST"]),
    Route("/repositories", views.repositories_page, methods=["GET"]),
    Route("/repositories", views.add_repository, methods=["POST"]),
    Route("/repositories/{id}/verify", views.verify, methods=["POST"]),
    Route("/repositories/{id}/remove", views.remove, methods=["POST"]),
    Route("/costs", views.costs, methods=["GET"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
