"""GET /health in the seed's shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import __version__
from bot.errors import StoreUnavailable
from bot.intake import Intake
from bot.settings import Settings
from bot.web.context import runtime_of

if TYPE_CHECKING:
    from bot.runtime import Runtime

# Any of these lets the Claude CLI reach the API (a key, a Claude subscription's token, a gateway's token).
AGENT_CREDENTIALS = frozenset({"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"})


def intake_state(intake: Intake) -> dict[str, object]:
    state = intake.state
    return {"status": state.status, "queued": intake.backlog, "failed": state.failed,
            "restarts": state.restarts, "last_error": state.last_error}


def setting_reasons(settings: Settings) -> list[str]:
    """What the configuration alone says the bot cannot do (a pure function of the settings)."""
    reasons = []
    if not AGENT_CREDENTIALS & settings.agent_env.keys():
        reasons.append("no Anthropic credentials: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN")
    if settings.github_token is None and settings.github_app_id is None:
        reasons.append("no GitHub credentials: set GITHUB_TOKEN (or GITHUB_APP_ID) to comment, push and open PRs")
    if not settings.webhook_secrets:
        reasons.append("GITHUB_WEBHOOK_SECRET is not set: every webhook delivery is refused")
    return reasons


async def degraded_reasons(runtime: Runtime) -> list[str]:
    """Why the bot, though its store is fine, cannot do real work now; empty when it can."""
    reasons = setting_reasons(runtime.settings)
    reasons += [f"{name} is not available" for name, t in runtime.tools.items() if not t.available]
    if runtime.sandbox is not None and not runtime.sandbox.available:
        reasons.append(f"agent sandbox unavailable: {runtime.sandbox.detail}")
    if runtime.intake.state.status != "running":
        reasons.append(f"intake is {runtime.intake.state.status}: {runtime.intake.state.last_error}")
    try:
        configured = bool(await runtime.store.list_repositories())
    except StoreUnavailable as exc:
        return [*reasons, f"the store failed while asked for repositories: {exc}"]
    if not configured:
        reasons.append("no configured repository: add one with `awo repos add owner/repo`")
    return reasons


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
    healthy = db.status == "healthy" and db.tables_exist
    reasons = await degraded_reasons(runtime) if healthy else []
    status = "healthy" if healthy and not reasons else ("degraded" if healthy else "unhealthy")
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
        "reasons": reasons,
    }
    if runtime.retention is not None:
        body["data_dir"] = {"path": str(settings.data_dir), "bytes": await runtime.retention.data_dir_bytes()}
    return JSONResponse(body, status_code=200 if healthy else 503)

