"""A real git smart-HTTP host on loopback (`git http-backend`) that, like GitHub, refuses a request without
credentials: a clone, fetch or push only works if the bot sent its token."""

from __future__ import annotations

import base64
import http.server
import subprocess
from pathlib import Path

from tests.support.loopback import LoopbackHost


class AuthenticatedGitHost(LoopbackHost):
    """Serves the bare repositories under `root` at `http://127.0.0.1:<port>/<name>.git`, for one token."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.refused: list[str] = []  # "METHOD path" of every request without the token
        super().__init__()

    def answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        if request.headers.get("Authorization", "").lower() != self.expected.lower():
            self.refused.append(f"{request.command} {request.path}")
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        self._backend(request)

    def _backend(self, request: http.server.BaseHTTPRequestHandler) -> None:
        """Hand the request to `git http-backend` (CGI) and relay its answer."""
        path, _, query = request.path.partition("?")
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "x-access-token", "REMOTE_ADDR": "127.0.0.1",  # authenticated: receive-pack allowed
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root),
        }
        if request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
        done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
