"""Bare git repositories on disk, standing in for GitHub remotes."""

from __future__ import annotations

import http.server
import subprocess
from pathlib import Path

from tests.support.loopback import LoopbackHost

GIT_ENV = {"GIT_AUTHOR_NAME": "Octo Cat", "GIT_AUTHOR_EMAIL": "octo@example.com",
           "GIT_COMMITTER_NAME": "Octo Cat", "GIT_COMMITTER_EMAIL": "octo@example.com",
           "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_remote(root: Path, name: str = "Hello-World", files: dict[str, str] | None = None) -> Path:
    """A bare repository with one commit on `main`; returns its path (usable as a clone URL)."""
    seed, bare = root / f"{name}-seed", root / f"{name}.git"
    seed.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=seed)
    for path, text in (files or {"README.md": "# Hello World\n"}).items():
        (seed / path).parent.mkdir(parents=True, exist_ok=True)
        (seed / path).write_text(text)
    git("add", "--all", cwd=seed)
    git("commit", "--quiet", "-m", "Initial commit", cwd=seed)
    git("clone", "--quiet", "--bare", str(seed), str(bare), cwd=root)
    return bare


def branches(bare: Path) -> list[str]:
    out = git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=bare)
    return sorted(out.splitlines())


def show(bare: Path, ref: str, path: str) -> str:
    return git("show", f"{ref}:{path}", cwd=bare)


class HeaderRecorder(LoopbackHost):
    """A git HTTP host on loopback that records each request's path and headers and answers 404."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        super().__init__()

    def answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        self.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        request.send_response(404)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def authorizations(self) -> list[str]:
        return [headers["authorization"] for _, headers in self.requests if "authorization" in headers]
