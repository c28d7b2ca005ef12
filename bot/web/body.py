"""Reading a request body with a size cap and a deadline, so no client can hold memory or a task for long."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Receive

# On a refusal that leaves the body unread: uvicorn would otherwise read and discard the rest of it.
CLOSE = {"Connection": "close"}


class BodyRefused(Exception):
    """The body was refused before it was read whole; `status` is 413 (too large) or 408 (too slow)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def declared_too_large(declared: str, limit: int) -> bool:
    """True if a Content-Length alone says the body is over `limit` (checked before reading a byte)."""
    declared = declared.strip()
    return declared.isdigit() and int(declared) > limit


async def read_bounded(request: Request, limit: int, timeout: float) -> bytes:
    """The body, refused as soon as it passes `limit` bytes or takes longer than `timeout` seconds."""
    return await read_body(request.receive, request.headers.get("content-length", ""), limit, timeout)


async def read_body(receive: Receive, declared: str, limit: int, timeout: float) -> bytes:
    """`read_bounded` on the ASGI receive channel itself, for the webhook, which answers without a Request."""
    too_large = BodyRefused(413, f"body larger than {_size(limit)}")
    if declared_too_large(declared, limit):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect
                    raise BodyRefused(400, "the client went away before sending the whole body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BodyRefused(408, f"body not received within {timeout:g} s") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def has_nul(body: bytes, value: object) -> bool:
    """True if a parsed body holds a NUL character, which Postgres cannot store in text or JSONB."""
    return b"\\u0000" in body and _holds_nul(value)


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
