"""`awo app create`: the manifest flow against the fake GitHub, with the browser played by an HTTP client."""

from __future__ import annotations

import asyncio
import html
import json
import re
import stat
from pathlib import Path

import httpx

from bot.app_manifest import create_app
from bot.github import GitHubClient
from bot.settings import load_settings
from tests.support.fake_github import FakeGitHub

WEB = "https://github.example"


async def browse(said: list[str]) -> str:
    """What a user's browser does: open the page, check the form GitHub gets, follow GitHub's redirect."""
    while not said:
        await asyncio.sleep(0.01)
    local = re.search(r"Open (\S+)/ in a browser", said[0])
    assert local, said
    async with httpx.AsyncClient(base_url=local[1]) as browser:
        page = (await browser.get("/")).text
        action = html.unescape(re.search(r'action="([^"]+)"', page)[1])  # type: ignore[index]
        sent = json.loads(html.unescape(re.search(r'name="manifest" value="([^"]+)"', page)[1]))  # type: ignore[index]
        assert action.startswith(f"{WEB}/organizations/octo/settings/apps/new?state=")
        assert sent["hook_attributes"]["url"] == "https://bot.example/webhooks/github"
        assert sent["redirect_url"] == f"{local[1]}/callback"
        assert sent["default_permissions"] == {"contents": "write", "issues": "write", "pull_requests": "write",
                                               "metadata": "read"}
        state = action.split("state=")[1]
        assert (await browser.get("/callback", params={"code": "forged", "state": "not-ours"})).status_code == 400
        done = await browser.get("/callback", params={"code": "c0de", "state": state})
        assert done.status_code == 200
    return state


async def test_app_create_stores_credentials_the_bot_then_runs_with(tmp_path: Path) -> None:
    said: list[str] = []
    with FakeGitHub() as github:
        created, _ = await asyncio.gather(
            create_app(github.url, WEB, tmp_path / "data", name="awo", bot_url="https://bot.example", org="octo",
                       say=said.append),
            browse(said))
        env = dict(line.split("=", 1) for line in created.read_text().splitlines())
        key = Path(env["GITHUB_APP_PRIVATE_KEY_FILE"])
        assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(created.stat().st_mode) == 0o600
        assert env["GITHUB_WEBHOOK_SECRET"]
        settings = load_settings(github_app_id=env["GITHUB_APP_ID"], github_app_private_key_file=key,
                                 github_api_url=github.url, agent_env={})
        client = GitHubClient("", github.url, app=(env["GITHUB_APP_ID"], settings.app_private_key or ""))
        assert await client.viewer_login() == "awo-c0de[bot]"  # the stored key signs a JWT GitHub accepts
        with github.client() as fake:
            assert fake.violations() == []
    assert "Created the GitHub App awo-c0de" in said[-1] and str(created) in said[-1]
