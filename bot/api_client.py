"""The REST API as the terminal commands see it: AWO_URL and AWO_API_TOKEN, one-line errors for what goes wrong.

Redirects are not followed (the token goes to AWO_URL's host only), and no answer's text is trusted to be short.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.errors import BotError, NotFound
from bot.remotes import strip_userinfo
from bot.sanitize import without_invisible
from bot.settings import Settings

PREFIX = "/api/agent-work-orders"


class ApiError(BotError):
    """The server could not be asked, or refused: the message is one line for the terminal."""


class ApiClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if settings.api_token is None:
            raise ApiError("AWO_API_TOKEN is not set: set it to the server's token (the API needs it)")
        self.base = settings.api_url.rstrip("/")
        self.shown = strip_userinfo(self.base)
        self.http = httpx.AsyncClient(
            base_url=self.base, transport=transport, follow_redirects=False,
            timeout=settings.http_timeout_seconds,
            headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"},
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON of GET PREFIX+path; ApiError (NotFound for a 404) with the reason otherwise."""
        try:
            response = await self.http.get(f"{PREFIX}{path}", params=params)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach the server at {self.shown} ({type(exc).__name__}): is `awo serve` "
                           "running there? (AWO_URL names it)") from None
        if response.status_code >= 300:
            raise self._refusal(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.shown} did not answer JSON: is AWO_URL the bot's address?") from None

    def _refusal(self, response: httpx.Response) -> BotError:
        detail = _detail(response)
        if response.status_code == 401:
            return ApiError(f"the server at {self.shown} refused the API token: set AWO_API_TOKEN to its token")
        if response.status_code == 404:
            return NotFound(detail or "not found")
        return ApiError(f"the server at {self.shown} answered {response.status_code}: {detail}")


def _detail(response: httpx.Response) -> str:
    """The problem body's `detail`, as one short line."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = response.text
    if isinstance(detail, list):  # a 422's complaints
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}" for d in detail
                           if isinstance(d, dict))
    return " ".join(without_invisible(str(detail)).split())[:300]  # printed on a terminal: no escape sequences
