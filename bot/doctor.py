"""`awo doctor`: what is there, what is missing, in one line each; non-zero when real work cannot happen.

Credentials are tried, not only looked for, wherever a round trip is cheap and harmless: GitHub's
`/rate_limit` (costs no quota) and, when ANTHROPIC_BASE_URL names a server, its free token count.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.errors import BotError
from bot.github import GitHubPort
from bot.models import Repository
from bot.runtime import build_github, probe_tool
from bot.sandbox import build_sandbox, probe_sandbox
from bot.settings import Settings
from bot.store.factory import build_store

Check = tuple[bool, str]
ANTHROPIC_VERSION = "2023-06-01"
TIMEOUT = 10.0


async def run_doctor(settings: Settings) -> int:
    store_check, repos = await _store(settings)
    checks = [
        await _tool("Claude CLI", settings.claude_cli_path, "set CLAUDE_CLI_PATH or run `make install`"),
        await _tool("git", "git", "install git"),
        await _sandbox(settings),
        store_check,
        _repositories(repos),
        _secret(settings),
        await _anthropic(settings.agent_env, settings.model),
        await _github(settings, repos or []),
    ]
    for ok, line in checks:
        print(f"{'ok  ' if ok else 'MISS'} {line}")
    return 0 if all(ok for ok, _ in checks) else 1


async def _tool(name: str, path: str, fix: str) -> Check:
    tool = await probe_tool(path, "--version")
    return (True, f"{name}: {tool.version}") if tool.available else (False, f"{name}: not found at {path!r}; {fix}")


async def _sandbox(settings: Settings) -> Check:
    status = await probe_sandbox(build_sandbox(settings.agent_sandbox, settings.path_env))
    return status.available, f"agent sandbox ({status.kind}): {status.detail}"


async def _store(settings: Settings) -> tuple[Check, list[Repository] | None]:
    """The store's state, and its configured repositories when it can be read."""
    store = build_store(settings)
    try:
        await store.open()
        health = await store.health()
        repos = await store.list_repositories() if health.tables_exist else None
    except BotError as exc:
        return (False, f"store ({settings.storage_type}): {exc}"), None
    finally:
        await store.close()
    if not health.tables_exist:
        return (False, f"store ({settings.storage_type}): tables missing; {health.hint or 'run `awo migrate`'}"), None
    return (health.status == "healthy", f"store ({settings.storage_type}): {health.status}"), repos


def _repositories(repos: list[Repository] | None) -> Check:
    if repos is None:
        return False, "configured repositories: unknown until the store can be read"
    if not repos:
        return False, "configured repositories: none; events of every repository are ignored (`awo repos add`)"
    return True, f"configured repositories: {', '.join(r.full_name for r in repos)}"


def _secret(settings: Settings) -> Check:
    count = len(settings.webhook_secrets)
    if count == 0:
        return False, "GITHUB_WEBHOOK_SECRET: not set; every webhook delivery will be refused"
    return True, f"GITHUB_WEBHOOK_SECRET: {count} secret(s) configured"


def anthropic_headers(agent_env: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """Which credential the CLI would use, as the header the API expects; None without any."""
    if agent_env.get("ANTHROPIC_API_KEY"):
        return "ANTHROPIC_API_KEY", {"x-api-key": agent_env["ANTHROPIC_API_KEY"]}
    for name in ("CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"):
        if agent_env.get(name):
            return name, {"authorization": f"Bearer {agent_env[name]}"}
    return None


async def _anthropic(agent_env: Mapping[str, str], model: str) -> Check:
    found = anthropic_headers(agent_env)
    if found is None:
        return False, "Anthropic credentials: none; set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN"
    name, headers = found
    base_url = agent_env.get("ANTHROPIC_BASE_URL", "").rstrip("/")
    if not base_url:
        return True, f"Anthropic credentials: {name} set (not tried: no ANTHROPIC_BASE_URL)"
    body = {"model": model, "messages": [{"role": "user", "content": "ping"}]}
    answer = await _ask("POST", f"{base_url}/v1/messages/count_tokens", headers={
        **headers, "anthropic-version": ANTHROPIC_VERSION}, json=body)
    if isinstance(answer, str):
        return False, f"Anthropic ({base_url}): unreachable: {answer}"
    if answer in (401, 403):
        return False, f"Anthropic ({base_url}): {name} refused ({answer})"
    return answer < 300, f"Anthropic ({base_url}): {name} accepted" if answer < 300 else (
        f"Anthropic ({base_url}): answered {answer}")


async def _ask(method: str, url: str, **kwargs: object) -> int | str:
    """The status of one request, or why no answer came."""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            return (await client.request(method, url, **kwargs)).status_code  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"


async def _github(settings: Settings, repos: list[Repository]) -> Check:
    github = build_github(settings)
    if github is not None and settings.github_token is None:
        return await _github_app(settings, github, repos)
    if github is None or settings.github_token is None:
        return False, "GitHub credentials: set GITHUB_TOKEN (or GH_TOKEN) to comment, push and open PRs"
    token = settings.github_token.get_secret_value()
    answer = await _ask("GET", f"{settings.github_api_url}/rate_limit", headers={
        "authorization": f"Bearer {token}", "accept": "application/vnd.github+json"})
    if isinstance(answer, str) or answer >= 500:
        return False, f"GitHub ({settings.github_api_url}): unreachable: {answer}"
    if answer == 401:
        return False, f"GitHub ({settings.github_api_url}): the token was refused (401 Bad credentials)"
    for repo in repos:
        try:
            await github.get_repository(repo.full_name)
        except BotError as exc:
            return False, f"GitHub ({settings.github_api_url}): cannot read {repo.full_name}: {exc}"
    return True, f"GitHub ({settings.github_api_url}): reachable, token accepted; {len(repos)} repositories readable"


async def _github_app(settings: Settings, github: GitHubPort, repos: list[Repository]) -> Check:
    """As a GitHub App: GitHub must accept its JWT (`GET /app`), and the App must be installed on each repository."""
    where = f"GitHub ({settings.github_api_url})"
    try:
        login = await github.viewer_login()
    except BotError as exc:
        return False, f"{where}: the App (GITHUB_APP_ID {settings.github_app_id}) was refused: {exc}"
    for repo in repos:
        try:
            await github.get_repository(repo.full_name)
        except BotError as exc:
            return False, f"{where}: cannot read {repo.full_name} as the App (is it installed there?): {exc}"
    return True, f"{where}: reachable as the App {login}; {len(repos)} repositories readable"
