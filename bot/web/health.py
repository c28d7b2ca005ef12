"""GET /health in the seed's shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import __version__
from bot.intake import Intake
from bot.web.context import runtime_of


def intake_state(intake: Intake) -> dict[str, object]:
    state = intake.state
    return {"status": state.status, "queued": intake.backlog, "failed": state.failed,
            "restarts": state.restarts, "last_error": state.last_error}


async def health(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    settings = runtime.settings
    db = await runtime.store.health()
    database = {"status": db.status, "tables_exist": db.tables_exist}
    hint = runtime.store_problem or db.hint  # while the store is not open, the error opening it says why
    if hint and not (db.status == "healthy" and db.tables_exist):
        database["hint"] = hint
    tools = {name: {"available": t.available, "version": t.version} for name, t in runtime.tools.items()}
    github = {
        "available": runtime.github is not None,
        "api_url": settings.github_api_url,
        "auth": "token" if settings.github_token else ("app" if settings.github_app_id else None),
        "webhook_secret_configured": bool(settings.webhook_secrets),
    }
    sandbox = runtime.sandbox  # known once the runtime has started; without it no work order can run
    sandboxed = sandbox is None or sandbox.available
    healthy = db.status == "healthy" and db.tables_exist
    ready = all(t["available"] for t in tools.values()) and runtime.intake.state.status == "running"
    status = "healthy" if healthy and sandboxed and ready else (
        "degraded" if healthy else "unhealthy")
    body = {
        "status": status,
        "service": "agent-work-orders",
        "version": __version__,
        "storage_type": settings.storage_type,
        "database": database,
        "dependencies": {**tools, "github": github},
        "agent_sandbox": sandbox and {"kind": sandbox.kind, "available": sandbox.available,
                                      "detail": sandbox.detail},
        "intake": intake_state(runtime.intake),
        "worker": {"enabled": runtime.worker is not None,
                   "concurrency": runtime.worker.config.concurrency if runtime.worker else 0},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)

