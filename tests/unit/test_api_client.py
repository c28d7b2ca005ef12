"""The terminal's API client: the token goes to AWO_URL's host only (no redirect is followed), and any odd answer is
one clear line."""

from __future__ import annotations

import http.server
from pathlib import Path

import pytest

from bot.api_client import ApiClient, ApiError
from tests.conftest import API_TOKEN, make_settings
from tests.support.loopback import LoopbackHost


class Recorder(LoopbackHost):
    """Answers with a fixed status, headers and body; records the Authorization header of each request."""

    def __init__(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.status, self.body, self.headers = status, body, headers or {}
        self.seen: list[str | None] = []

    def answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        self.seen.append(request.headers.get("Authorization"))
        request.send_response(self.status)
        for name, value in self.headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(self.body)))
        request.end_headers()
        request.wfile.write(self.body)


async def test_a_redirect_is_not_followed_so_the_token_stays_with_awo_url(tmp_path: Path) -> None:
    with Recorder(200) as elsewhere:
        with Recorder(302, headers={"Location": f"{elsewhere.url}/steal"}) as server:
            async with ApiClient(make_settings(tmp_path, server_url=server.url)) as api:
                with pytest.raises(ApiError, match="answered 302"):
                    await api.get("/")
    assert server.seen == [f"Bearer {API_TOKEN}"] and elsewhere.seen == []


@pytest.mark.parametrize(("status", "body", "said"), [
    (200, b"<html>not the bot</html>", "did not answer JSON: is AWO_URL the bot's address?"),
    (502, b"<html>\x1b]0;pwned\x07bad gateway</html>", "answered 502: <html>]0;pwnedbad gateway</html>"),
    (422, b'{"detail": [{"loc": ["query", "limit"], "msg": "too big"}]}', "answered 422: query.limit: too big"),
])
async def test_odd_answers_are_one_clean_line(tmp_path: Path, status: int, body: bytes, said: str) -> None:
    with Recorder(status, body) as server:
        async with ApiClient(make_settings(tmp_path, server_url=server.url)) as api:
            with pytest.raises(ApiError) as raised:
                await api.get("/")
    assert said in str(raised.value) and "\n" not in str(raised.value) and "\x1b" not in str(raised.value)


def test_no_token_is_said_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(ApiError, match="AWO_API_TOKEN is not set"):
        ApiClient(make_settings(tmp_path, api_token=None))
