"""`awo app create`: register the bot's GitHub App with GitHub's manifest flow and store what GitHub returns.

GitHub creates an App from a manifest only when a browser POSTs it from a form; it then redirects the browser to
`redirect_url` with a one-time code, which is exchanged (within an hour, unauthenticated) for the App's id, private
key and webhook secret. A one-shot loopback server serves the form and receives that redirect.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from bot.errors import BotError
from bot.github_app import PERMISSIONS, convert_manifest

EVENTS = ["issues", "issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment"]
WAIT_SECONDS = 3600.0  # GitHub's code is valid for an hour


def manifest(name: str, bot_url: str, redirect_url: str) -> dict[str, Any]:
    """What the App asks for: the bot's permissions and events, its webhook, and where GitHub sends the code."""
    return {"name": name, "url": bot_url, "redirect_url": redirect_url, "public": False,
            "hook_attributes": {"url": f"{bot_url.rstrip('/')}/webhooks/github", "active": True},
            "default_permissions": PERMISSIONS, "default_events": EVENTS}


def new_app_url(web_url: str, org: str | None, state: str) -> str:
    where = f"/organizations/{quote(org)}" if org else ""
    return f"{web_url.rstrip('/')}{where}/settings/apps/new?state={quote(state)}"


def start_page(action: str, app_manifest: dict[str, Any]) -> str:
    """A page that posts the manifest to GitHub as soon as it opens (a button if scripts are off)."""
    return ("<!doctype html><title>Create the GitHub App</title>"
            f'<form id="f" method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="manifest" value="{html.escape(json.dumps(app_manifest))}">'
            '<button>Create the GitHub App on GitHub</button></form>'
            '<script>document.getElementById("f").submit()</script>')


def _reply(writer: asyncio.StreamWriter, status: str, body: str) -> None:
    data = body.encode()
    writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(data)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + data)


class Receiver:
    """The loopback server: `/` serves the form, `/callback` takes GitHub's code (only with our state)."""

    def __init__(self, state: str) -> None:
        self.page, self.state = "", state
        self.code: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = (await reader.readline()).decode("latin-1").split(" ")[1:2]
            parts = urlsplit(target[0] if target else "/")
            query = parse_qs(parts.query)
            if parts.path == "/callback" and query.get("state") == [self.state] and query.get("code"):
                _reply(writer, "200 OK", "The App was created: you can close this page and return to the terminal.")
                if not self.code.done():
                    self.code.set_result(query["code"][0])
            elif parts.path == "/":
                _reply(writer, "200 OK", self.page)
            else:
                _reply(writer, "400 Bad Request", "Not a redirect from GitHub for this request.")
            await writer.drain()
        finally:
            writer.close()


def store_credentials(folder: Path, app: dict[str, Any]) -> Path:
    """The key as a file and the variables to set, both readable by this user only; returns the env file."""
    folder.mkdir(parents=True, exist_ok=True)
    slug = str(app["slug"])
    key = folder / f"github-app-{slug}.pem"
    env = folder / f"github-app-{slug}.env"
    lines = [f"GITHUB_APP_ID={app['id']}", f"GITHUB_APP_PRIVATE_KEY_FILE={key}",
             f"GITHUB_WEBHOOK_SECRET={app.get('webhook_secret') or ''}"]
    for path, text in ((key, str(app["pem"])), (env, "\n".join(lines) + "\n")):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    return env


async def create_app(api_url: str, web_url: str, folder: Path, *, name: str, bot_url: str, org: str | None = None,
                     port: int = 0, say: Callable[[str], None] = print) -> Path:
    """Serve the form, wait for GitHub's redirect, exchange its code and store the App's credentials."""
    state = secrets.token_urlsafe(16)
    receiver = Receiver(state)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", port)
    local = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    receiver.page = start_page(new_app_url(web_url, org, state), manifest(name, bot_url, f"{local}/callback"))
    async with server:
        say(f"Open {local}/ in a browser on this machine to create the App on GitHub ({web_url}).")
        try:
            code = await asyncio.wait_for(receiver.code, WAIT_SECONDS)
        except TimeoutError:
            raise BotError("no answer from GitHub within an hour; run `awo app create` again") from None
    app = await convert_manifest(api_url, code)
    env = store_credentials(folder, app)
    say(f"Created the GitHub App {app['slug']} (id {app['id']}). Its settings are in {env}: add them to the bot's "
        f"environment, then install the App on your repositories.")
    return env
