"""The REST API as the terminal commands see it: AWO_URL and AWO_API_TOKEN, one-line errors for what goes wrong.

Redirects are not followed (the token goes to AWO_URL's host only), and no answer's text is trusted to be short.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx

from bot.errors import BotError, NotFound
from bot.remotes import strip_userinfo
from bot.sanitize import without_invisible
from bot.settings import Settings
from bot.sse import Event, EventReader

PREFIX = "/api/agent-work-orders"
STREAM_READ_SECONDS = 45.0  # the server pings an open stream every 15 s: three missed pings is a dead connection


class ApiError(BotError):
    """The server could not be asked, or refused: the message is one line for the terminal. `retryable`: asking
    again later may work (unreachable, dropped, or a 5xx such as a 503 for too many open streams)."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


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
            raise self._unreachable(exc) from None
        if response.status_code >= 300:
            raise self._refusal(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.shown} did not answer JSON: is AWO_URL the bot's address?") from None

    async def events(self, path: str, params: dict[str, Any], last_event_id: str | None = None
                     ) -> AsyncGenerator[Event, None]:
        """The Server-Sent Events of GET PREFIX+path as they arrive, resumed after `last_event_id`; ApiError
        (retryable when the connection failed or dropped) otherwise. Ends when the server ends the response."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_SECONDS)
        try:
            async with self.http.stream("GET", f"{PREFIX}{path}", params=params, headers=headers,
                                        timeout=timeout) as response:
                if response.status_code >= 300:
                    await response.aread()
                    raise self._refusal(response)
                reader = EventReader(last_event_id)
                async for line in response.aiter_lines():
                    if (event := reader.feed(line)) is not None:
                        yield event
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: httpx.TransportError) -> ApiError:
        return ApiError(f"cannot reach the server at {self.shown} ({type(exc).__name__}): is `awo serve` running "
                        "there? (AWO_URL names it)", retryable=True)

    def _refusal(self, response: httpx.Response) -> BotError:
        detail = _detail(response)
        if response.status_code == 401:
            return ApiError(f"the server at {self.shown} refused the API token: set AWO_API_TOKEN to its token")
        if response.status_code == 404:
            return NotFound(detail or "not found")
        return ApiError(f"the server at {self.shown} answered {response.status_code}: {detail}",
                        retryable=response.status_code >= 500)


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
