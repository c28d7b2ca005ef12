"""`awo doctor`: what is there, what is missing, in one line each."""

from __future__ import annotations

from bot.errors import BotError
from bot.runtime import build_github, probe_tool
from bot.sandbox import build_sandbox, probe_sandbox
from bot.settings import Settings
from bot.store.factory import build_store


async def run_doctor(settings: Settings) -> int:
    checks = [
        await _tool("Claude CLI", settings.claude_cli_path, "set CLAUDE_CLI_PATH or run `make install`"),
        await _tool("git", "git", "install git"),
        await _sandbox(settings),
        await _store(settings),
        _secret(settings),
        await _github(settings),
    ]
    for ok, line in checks:
        print(f"{'ok  ' if ok else 'MISS'} {line}")
    return 0 if all(ok for ok, _ in checks) else 1


async def _tool(name: str, path: str, fix: str) -> tuple[bool, str]:
    tool = await probe_tool(path, "--version")
    return (True, f"{name}: {tool.version}") if tool.available else (False, f"{name}: not found at {path!r}; {fix}")


async def _sandbox(settings: Settings) -> tuple[bool, str]:
    status = await probe_sandbox(build_sandbox(settings.agent_sandbox, settings.path_env))
    return status.available, f"agent sandbox ({status.kind}): {status.detail}"


async def _store(settings: Settings) -> tuple[bool, str]:
    store = build_store(settings)
    try:
        await store.open()
        health = await store.health()
    except BotError as exc:
        return False, f"store ({settings.storage_type}): {exc}"
    finally:
        await store.close()
    if not health.tables_exist:
        return False, f"store ({settings.storage_type}): tables missing; {health.hint or 'run `awo migrate`'}"
    return health.status == "healthy", f"store ({settings.storage_type}): {health.status}"


def _secret(settings: Settings) -> tuple[bool, str]:
    count = len(settings.webhook_secrets)
    if count == 0:
        return False, "GITHUB_WEBHOOK_SECRET: not set; every webhook delivery will be refused"
    return True, f"GITHUB_WEBHOOK_SECRET: {count} secret(s) configured"


async def _github(settings: Settings) -> tuple[bool, str]:
    github = build_github(settings)
    if github is None:
        return False, "GitHub credentials: set GITHUB_TOKEN (or GH_TOKEN) to comment, push and open PRs"
    store = build_store(settings)
    await store.open()
    try:
        repos = await store.list_repositories()
    finally:
        await store.close()
    for repo in repos:
        try:
            await github.get_repository(repo.full_name)
        except BotError as exc:
            return False, f"GitHub ({settings.github_api_url}): cannot read {repo.full_name}: {exc}"
    return True, f"GitHub ({settings.github_api_url}): token set; {len(repos)} configured repositories readable"
