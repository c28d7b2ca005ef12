"""`awo`: serve, worker, run, action, migrate, repos, cancel, retry, list, show, doctor."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
from collections.abc import Callable, Sequence

from bot.errors import BotError, ConfigError
from bot.models import Status
from bot.settings import Settings, load_settings

log = logging.getLogger("bot")


def configure_logging(level: str, fmt: str = "text") -> None:
    from bot.logs import configure

    configure(level, fmt)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime import build_runtime
    from bot.web.app import create_app
    from bot.web.server import GracefulServer, uvicorn_options

    for line in settings.missing_for_github():
        log.warning("%s", line)
    if settings.api_token is None:
        log.warning("AWO_API_TOKEN is not set: the REST API under /api answers 403 (webhooks and /health work)")
    runtime = build_runtime(settings, workers=args.workers)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    log.info("serving on http://%s:%d (storage: %s)", host, port, settings.storage_type)
    # uvicorn turns SIGTERM/SIGINT into the lifespan's shutdown, where runtime.stop() gives running work orders
    # the grace period; connections get no less
    config = uvicorn.Config(create_app(runtime), host=host, port=port, log_level=settings.log_level.lower(),
                            access_log=False, lifespan="on",
                            timeout_graceful_shutdown=max(10, math.ceil(settings.shutdown_grace_seconds)),
                            log_config=None, **uvicorn_options(settings))
    GracefulServer(config, runtime.hurry).run()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import build_runtime

    async def main() -> None:
        runtime = build_runtime(settings, workers=args.concurrency or settings.worker_concurrency or 1)
        stopping = _on_signals(runtime.hurry)
        port = settings.metrics_port  # the worker's own counters; the fleet's are any server's /metrics
        exporter = runtime.metrics.serve(settings.metrics_host, port) if port else None
        await runtime.start()
        signum = await stopping
        log.info("%s received: stopping (running work orders get up to %g s; a second signal ends that)",
                 signal.Signals(signum).name, settings.shutdown_grace_seconds)
        await runtime.stop()
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        log.info("worker stopped")

    asyncio.run(main())
    return 0


def _on_signals(hurry: Callable[[], None]) -> asyncio.Future[int]:
    """SIGTERM (systemd, Docker, Kubernetes) and SIGINT (Ctrl-C) alike: the first stops, the next hurries."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[int] = loop.create_future()

    def handle(signum: int) -> None:
        if received.done():
            log.warning("%s received again: releasing running work orders now", signal.Signals(signum).name)
            hurry()
        else:
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, handle, signum)
    return received


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.local import run_local

    return asyncio.run(run_local(settings, args.repo, args.prompt, args.commands, args.branch_base))


def cmd_action(settings: Settings, args: argparse.Namespace) -> int:
    from bot.action import run_action
    from bot.settings import load_runner

    try:
        return asyncio.run(run_action(settings, load_runner()))
    except ConfigError as exc:
        print(f"awo action: configuration error: {exc}", file=sys.stderr)
        return 2


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.migrate import apply_migrations

    # DATABASE_URL alone is enough (the README's `DATABASE_URL=… awo migrate`): migrating names Postgres.
    url = args.database_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if not url:
        print("awo migrate applies migrations/ to Postgres: set DATABASE_URL or pass --database-url."
              " (SQLite creates its tables itself; for Supabase over REST paste the files into the SQL Editor,"
              " see migrations/README.md.)", file=sys.stderr)
        return 2
    applied = asyncio.run(apply_migrations(url))
    print("\n".join(f"applied {name}" for name in applied) or "nothing to apply: the database is up to date")
    return 0


def cmd_repos(settings: Settings, args: argparse.Namespace) -> int:
    from bot.repos_cli import run_repos

    return asyncio.run(run_repos(settings, args))


def cmd_control(settings: Settings, args: argparse.Namespace) -> int:
    from bot.control_cli import run_control

    return asyncio.run(run_control(settings, args))


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.work_orders_cli import run_list

    return asyncio.run(run_list(settings, args))


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.work_orders_cli import run_show

    return asyncio.run(run_show(settings, args))


def page_size(text: str) -> int:
    if not text.isdecimal() or not 1 <= int(text) <= 500:
        raise argparse.ArgumentTypeError("a whole number from 1 to 500")
    return int(text)


def cmd_logs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.logs_cli import run_logs

    return asyncio.run(run_logs(settings, args))


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def cmd_app(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app_manifest import create_app

    asyncio.run(create_app(settings.github_api_url, settings.remote_policy.origin, settings.data_dir,
                           name=args.name, bot_url=args.url, org=args.org, port=args.port))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="awo", description="Agent Work Orders: GitHub issues in, pull requests out.")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="the webhook server, with a worker pool inside")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="work orders run at once here (0: receive only); "
                       "default WORKER_CONCURRENCY")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="a worker only: claims work orders from the shared store")
    worker.add_argument("--concurrency", type=int)
    worker.set_defaults(func=cmd_worker)
    run = sub.add_parser("run", help="run one work order on a local repository, without GitHub")
    run.add_argument("--repo", required=True, help="a local path or a git URL")
    run.add_argument("--prompt", required=True, help="what the agent should do")
    run.add_argument("--commands", nargs="*", help="agent steps (default: plan implement)")
    run.add_argument("--branch-base", help="the branch to start from (default: the remote's HEAD)")
    run.set_defaults(func=cmd_run)
    action = sub.add_parser("action", help="one GitHub Actions step: the runner's event, run here (action.yml)")
    action.set_defaults(func=cmd_action)
    migrate = sub.add_parser("migrate", help="apply pending migrations to Postgres")
    migrate.add_argument("--database-url")
    migrate.set_defaults(func=cmd_migrate)
    repos = sub.add_parser("repos", help="configured repositories")
    repos_sub = repos.add_subparsers(dest="repos_command", required=True)
    add = repos_sub.add_parser("add", help="configure a repository (owner/repo or its URL)")
    add.add_argument("repository")
    add.add_argument("--no-verify", action="store_true", help="do not check it on GitHub")
    repos_sub.add_parser("list", help="list configured repositories")
    remove = repos_sub.add_parser("remove", help="stop handling a repository")
    remove.add_argument("repository", help="its id, URL or owner/repo")
    repos.set_defaults(func=cmd_repos)
    for name, text in (("cancel", "stop a waiting or running work order"),
                       ("retry", "run a failed or cancelled work order again")):
        control = sub.add_parser(name, help=text)
        control.add_argument("id", help="the work order's id (wo-...)")
        control.set_defaults(func=cmd_control)
    listing = sub.add_parser("list", help="work orders, newest first, from the server (AWO_URL, AWO_API_TOKEN)")
    listing.add_argument("--status", choices=[s.value for s in Status])
    listing.add_argument("--repo", help="owner/name")
    listing.add_argument("--limit", type=page_size, default=50, help="how many (1-500, default 50)")
    listing.add_argument("--json", action="store_true", help="the API's JSON, for scripts")
    listing.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="one work order with its steps, durations, cost and links")
    show.add_argument("id", help="the work order's id (wo-...)")
    show.add_argument("--json", action="store_true", help="the API's JSON, for scripts")
    show.set_defaults(func=cmd_show)
    logs = sub.add_parser("logs", help="a work order's log from the server (AWO_URL, AWO_API_TOKEN): steps, "
                          "tool uses, status changes")
    logs.add_argument("id", help="the work order's id (wo-...)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new entries until it ends (the "
                      "live stream, resumed if the connection drops)")
    logs.add_argument("--after", type=int, default=0, help="only entries after this id")
    logs.set_defaults(func=cmd_logs)
    doctor = sub.add_parser("doctor", help="check the CLI, git, the store and GitHub settings")
    doctor.set_defaults(func=cmd_doctor)
    app = sub.add_parser("app", help="the bot's GitHub App")
    app_sub = app.add_subparsers(dest="app_command", required=True)
    create = app_sub.add_parser("create", help="register a GitHub App (manifest flow) and store its credentials")
    create.add_argument("--url", required=True, help="the bot's public URL (its webhook is URL/webhooks/github)")
    create.add_argument("--name", default="agent-work-orders", help="the App's name (unique on GitHub)")
    create.add_argument("--org", help="create it for this organisation (default: your account)")
    create.add_argument("--port", type=int, default=0, help="the loopback port of the page to open (0: any)")
    app.set_defaults(func=cmd_app)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"awo: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return int(args.func(settings, args))
    except BotError as exc:
        print(f"awo: {exc}", file=sys.stderr)
        return 1




if __name__ == "__main__":
    sys.exit(main())
