"""A tiny HTTP host on loopback, served from a thread, for tests that need a real peer (git over HTTP)."""

from __future__ import annotations

import http.server
import threading
from typing import Self


class LoopbackHost:
    """Answers every GET and POST with `answer(request)`; a context manager that starts and stops it."""

    def __init__(self) -> None:
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                host.answer(self)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
