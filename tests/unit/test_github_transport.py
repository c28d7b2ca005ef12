"""githubkit's per-call clients share one keep-alive pool per event loop: no TLS context and no new
connection per GitHub call, and a client closing after its call leaves the pool usable."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from bot.github import SharedTransport

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def test_calls_reuse_one_connection_after_each_client_closes() -> None:
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError):  # the client closed its pool
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(ANSWER)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    shared = SharedTransport()
    for _ in range(3):  # as githubkit does outside `async with`: a client per call, closed after it
        async with httpx.AsyncClient(transport=shared) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).json() == {}
    assert connections == 1
    await shared.pool().aclose()
    await asyncio.sleep(0.05)  # the server sees the close and closes its side
    server.close()
    await server.wait_closed()


def test_each_event_loop_has_its_own_pool() -> None:
    shared = SharedTransport()

    async def pools() -> tuple[object, object]:
        return shared.pool(), shared.pool()

    first, again = asyncio.run(pools())
    assert first is again and asyncio.run(pools())[0] is not first
