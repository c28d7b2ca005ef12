"""GET /work-orders/{id}: the address progress comments link (AWO_PUBLIC_URL). Until the dashboard's page takes it
over, it answers the work order's JSON (as GET /api/agent-work-orders/{id}), behind the API token like the API, so
a link in a comment is never dead and never shows a work order to someone without the token."""

from __future__ import annotations

from starlette.routing import Route

from bot.web.api import get_work_order, guarded

routes = [Route("/work-orders/{id}", guarded(get_work_order), methods=["GET"])]
