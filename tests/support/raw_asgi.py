"""Drive an ASGI app with a body stream we count, to prove a request was refused before its body was read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message


async def call(app: ASGIApp, method: str, path: str, headers: dict[str, str],
               chunks: Iterable[bytes]) -> tuple[int, int]:
    """(the response status, how many body bytes the app pulled) for one request whose body is `chunks`."""
    source = iter(chunks)
    pulled, status = 0, 0

    async def receive() -> Message:
        nonlocal pulled
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, pulled


def megabytes(count: int) -> Iterable[bytes]:
    """`count` MB of body, one shared 1 MB chunk at a time (the test itself holds 1 MB at most)."""
    chunk = b" " * (1024 * 1024)
    return (chunk for _ in range(count))
