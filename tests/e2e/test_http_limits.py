"""The real `awo serve` under slow, idle and oversized clients on loopback: /health keeps answering.

The server starts the way a default Linux shell leaves it (soft limit of 1,024 open files, a higher hard
limit) and with no AWO_API_TOKEN, as the README's quick start does.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e
HEAD_TIMEOUT = 4.0  # AWO_HTTP_TIMEOUT_SECONDS for this server: head and body deadlines
SOFT_FILES = 1024


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def health(self, timeout: float = 3.0) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=timeout).status_code

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


def default_shell_limits() -> None:
    """The child starts with the common soft limit on open files; the hard limit stays what it was."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(SOFT_FILES, hard), hard))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("http-limits")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "PYTHONPATH": str(ROOT),
           "AGENT_WORK_ORDERS_HOST": "127.0.0.1", "AGENT_WORK_ORDERS_PORT": str(port),
           "STATE_STORAGE_TYPE": "memory", "GITHUB_WEBHOOK_SECRET": "limits-secret", "WORKER_CONCURRENCY": "0",
           "AWO_HTTP_TIMEOUT_SECONDS": str(HEAD_TIMEOUT), "AWO_DATA_DIR": str(root / "data")}
    log_path = root / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_shell_limits)
    running = Server(process, port, log_path)
    wait_until(lambda: _answers(running), timeout=30)
    yield running
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _answers(server: Server) -> bool:
    try:
        return server.health(timeout=1) in (200, 503)
    except httpx.TransportError:
        return False


def status_of(sock: socket.socket, timeout: float) -> int | None:
    """The status code the server answered on `sock`, or None if it closed without one."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_start_up_says_in_one_line_that_the_api_is_disabled(server: Server) -> None:
    log = server.log_path.read_text()
    assert log.count("AWO_API_TOKEN is not set") == 1
    answer = httpx.post(f"http://127.0.0.1:{server.port}/api/agent-work-orders/",
                        json={"repository_url": "http://attacker.example/x.git", "user_request": "go"})
    assert answer.status_code == 403 and "AWO_API_TOKEN" in answer.json()["detail"]
    assert server.health() == 200


@pytest.fixture
def many_files() -> Iterator[None]:
    """This test process holds 1,100 sockets too: lift its own soft limit while it runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_1100_idle_and_slow_connections_do_not_stop_health(server: Server, many_files: None) -> None:
    """More connections than the soft open-files limit the server started with; each holds a descriptor."""
    webhook_head = (b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: s\r\n"
                    b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\nContent-Length: 1000\r\n\r\n{")
    with ExitStack() as stack:
        idle = [stack.enter_context(server.connect()) for _ in range(700)]
        half_heads = [stack.enter_context(server.connect()) for _ in range(200)]
        slow_bodies = [stack.enter_context(server.connect()) for _ in range(200)]
        for sock in half_heads:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        for sock in slow_bodies:
            sock.sendall(webhook_head)
        # Well before the head deadline frees any descriptor: /health must not wait for that.
        started = time.monotonic()
        for _ in range(5):
            assert server.health(timeout=1.5) == 200
        assert time.monotonic() - started < HEAD_TIMEOUT

        assert [status_of(sock, HEAD_TIMEOUT * 3) for sock in slow_bodies[:20]] == [408] * 20
        assert all(closed_by_server(sock, HEAD_TIMEOUT * 3) for sock in idle[:20] + half_heads[:20])
    assert server.health() == 200


def test_a_slow_api_body_is_a_408_not_a_held_task(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: b\r\n"
                     b"X-Hub-Signature-256: sha256=00\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
        started = time.monotonic()
        assert status_of(sock, HEAD_TIMEOUT * 3) == 408
        assert time.monotonic() - started < HEAD_TIMEOUT + 2


def test_an_unsigned_huge_delivery_is_refused_at_once_and_never_buffered(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
                     b"X-GitHub-Delivery: huge\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(400 << 20).encode() + b"\r\n\r\n")
        started = time.monotonic()
        assert status_of(sock, 5) == 401
        assert time.monotonic() - started < 1.5


def test_a_400_mb_body_with_a_signature_header_stops_at_25_mb_without_memory_growth(server: Server) -> None:
    before = server.rss_kb()
    chunk = b" " * (1 << 20)
    with server.connect() as sock:
        sock.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
                     b"X-GitHub-Delivery: big\r\nX-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        sock.settimeout(3)
        sent = 0
        try:
            for _ in range(400):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += 1
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 100
        assert status_of(sock, 5) == 413
    grown_mb = (server.rss_kb() - before) / 1024
    assert grown_mb < 80, f"RSS grew by {grown_mb:.0f} MB"
    assert server.health() == 200
    assert json.loads(httpx.get(f"http://127.0.0.1:{server.port}/health").text)["status"] in ("healthy", "degraded")
