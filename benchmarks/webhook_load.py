"""The two helper processes of benchmarks/webhooks.py: the load (lean keep-alive HTTP/1.1 clients on asyncio
streams, so the client costs little next to the servers) and the bare Starlette app it is compared with.

    python -m benchmarks.webhook_load JOB.json      prints "ready", waits for stdin to close, runs, prints JSON
    python -m benchmarks.webhook_load --bare PORT   the bare app: verify the HMAC, answer 202
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from typing import Any

from githubkit.webhooks import sign


def request(port: int, secret: str, event: str, body: bytes, delivery: str) -> bytes:
    head = (f"POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {delivery}\r\n"
            f"X-Hub-Signature-256: {sign(secret, body, 'sha256')}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def answer(reader: asyncio.StreamReader) -> int:
    """Read one response; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length")
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def client(port: int, todo: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while todo:
        started = time.perf_counter()
        writer.write(todo.pop())
        status = await answer(reader)
        latencies.append(time.perf_counter() - started)
        if status not in (200, 202):
            raise SystemExit(f"unexpected answer {status}")
    writer.close()


async def load(job: dict[str, Any]) -> dict[str, Any]:
    port, secret, tag = job["port"], job["secret"], job["tag"]
    todo = [request(port, secret, e, b.encode(), f"{tag}-{time.time_ns()}-{i}")
            for i, (e, b) in enumerate(job["deliveries"])][::-1]
    latencies: list[float] = []
    print("ready", flush=True)
    sys.stdin.read()
    started = time.perf_counter()
    await asyncio.gather(*(client(port, todo, latencies) for _ in range(job["concurrency"])))
    return {"seconds": time.perf_counter() - started, "latencies": latencies}


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def bare(port: int) -> None:
    """A Starlette app that reads the body, verifies the HMAC and answers, as `awo serve` must at least do."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.github import signature_valid
    from tests.e2e.harness import SECRET

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if not signature_valid((SECRET,), body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        delivery = request.headers["x-github-delivery"]
        return JSONResponse({"status": "accepted", "delivery_id": delivery}, status_code=202)

    app = Starlette(routes=[Route("/webhooks/github", receive, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    if sys.argv[1] == "--bare":
        bare(int(sys.argv[2]))
    else:
        with open(sys.argv[1]) as f:
            print(json.dumps(asyncio.run(load(json.load(f)))))
