"""A fake GitHub REST API on loopback that records every call, for end-to-end tests.

In-process:  with FakeGitHub(seed) as fake: GitHub(TokenAuthStrategy("t"), base_url=fake.url)
Standalone:  python -m tests.support.fake_github --port 0 --state seed.json   (from the repo root;
             prints FAKE_GITHUB_URL=http://127.0.0.1:PORT on stdout once listening)
Inspect:     FakeGitHubClient(url), or GET|DELETE /_fake/calls, GET|POST|DELETE /_fake/state,
             GET|POST|DELETE /_fake/faults, GET|DELETE /_fake/violations.

Every request is checked against GitHub's OpenAPI description (tests/support/openapi.py;
FakeGitHub(spec="ghes-3.19") or --spec picks another, served under /api/v3): one it does not
allow is answered 422 (an unknown path 404) and kept in /_fake/violations, so suites assert
there are none. /graphql only has to be {"query": str, "variables": object}.

Seed (POST /_fake/state merges it; every key optional; repos must be seeded before use):
    {"bot_login": "awo-bot[bot]", "tokens": ["ghs_x"],          # tokens: if set, others get 401
     "repos": {"octo/hello": {"default_branch": "main", "clone_url": "file:///tmp/hello.git",
                              "private": false, "description": null, "default_permission": "none"}},
     "permissions": {"octo/hello": {"alice": "admin", "bob": "triage"}},
     "issues": {"octo/hello": [{"number": 7, "title": "t", "body": "b", "user": "alice",
                                "labels": ["agent"], "state": "open"}]},
     "comments": {"octo/hello": [{"issue_number": 7, "body": "hi", "user": "alice"}]},
     "pulls": {"octo/hello": [{"head": "octo:branch", "base": "main", "title": "t", "body": null,
                               "draft": false, "state": "open", "user": "awo-bot[bot]"}]}}

Recorded call (GET /_fake/calls, oldest first; /_fake/* itself is not recorded):
    {"seq": 1, "time": "2025-01-01T00:00:00.000+00:00", "method": "POST",
     "path": "/repos/octo/hello/issues/7/comments", "query": {}, "json": {"body": "..."},
     "status": 201, "authorization": "token ghs_x", "token": "ghs_x", "faulted": false}

Pull-request conversations (changed files, reviews, review comments and their threaded replies,
GraphQL nodes(ids:) for minimized state and edit history) and their seed keys ("number",
"head_repo", "files" on pulls; "reviews", "review_comments"; "minimized", "edits" on comments):
see fake_github_threads.py.

Issues are lenient: any number in a seeded repo exists (a placeholder unless seeded or a PR).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .fake_github_app import answer_app, check_token
from .fake_github_model import (
    DEFAULT_BOT,
    FakeState,
    Fault,
    GitHubError,
    Json,
    Reply,
    SeedError,
    bind_spec,
)
from .fake_github_pull_routes import PULL_ENDPOINTS
from .fake_github_routes import ENDPOINTS, Ctx
from .openapi import DEFAULT_SPEC, Description, description

ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in ENDPOINTS + PULL_ENDPOINTS]


def _check_auth(state: FakeState, header: str | None) -> None:
    if not header:
        raise GitHubError(401, "Requires authentication")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token or (state.tokens and token not in state.tokens):
        raise GitHubError(401, "Bad credentials")


def _route(ctx: Ctx, method: str, path: str) -> Reply:
    for verb, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and verb == method:
            return handler(ctx, **match.groupdict())
    raise GitHubError(404, "Not Found")


def _parse_body(raw: bytes) -> tuple[Any, bool]:
    if not raw.strip():
        return None, True
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace"), False
    return value, isinstance(value, dict)


def _answer(state: FakeState, request: Request, path: str, body: Any, body_ok: bool) -> Reply:
    try:
        api = str(request.base_url).rstrip("/") + request.app.state.spec.prefix
        app_reply = answer_app(state, request.method, path, request.headers.get("authorization"), body or {}, api)
        if app_reply is not None:
            return app_reply
        check_token(state, request.headers.get("authorization"), path)
        _check_auth(state, request.headers.get("authorization"))
        if not body_ok:
            raise GitHubError(400, "Problems parsing JSON")
        ctx = Ctx(state, api, str(request.url), request.query_params, body or {})
        return _route(ctx, request.method, path)
    except GitHubError as exc:
        return Reply(exc.status, exc.body)


def _check(spec: Description, request: Request, path: str, body: Any) -> list[str] | None:
    """What the description does not allow in this request; None: no such path (GitHub's 404)."""
    if path == "/graphql":
        ok = isinstance(body, dict) and set(body) <= {"query", "variables", "operationName"} and isinstance(
            body.get("query"), str) and isinstance(body.get("variables", {}), dict)
        return [] if ok else ['a GraphQL request is {"query": str, "variables": object}']
    found = spec.match(path)
    operation = found and spec.operation(request.method, found[0])
    if not found or not operation:
        return None
    return operation.check(found[1], request.query_params.multi_items(), body)


def _validate(state: FakeState, spec: Description, request: Request, path: str, body: Any) -> Reply | None:
    """Record a violation and answer like GitHub would: 404 for an unknown path, 422 for the rest."""
    problems = _check(spec, request, path, body)
    if problems == []:
        return None
    reasons = problems or [f"{request.method} {path} is not in the {spec.name} description"]
    state.violations.append({"method": request.method, "path": request.url.path,
                             "query": dict(request.query_params), "json": body, "problems": reasons})
    if problems is None:
        return Reply(404, GitHubError(404, "Not Found").body)
    return Reply(422, GitHubError(422, "Invalid request.\n\n" + "\n".join(problems)).body)


async def github_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    spec: Description = request.app.state.spec
    body, body_ok = _parse_body(await request.body())
    path = request.url.path.removeprefix(spec.prefix) if spec.prefix else request.url.path
    if spec.prefix and path == "/api/graphql":
        path = "/graphql"
    invalid = _validate(state, spec, request, path, body) if body_ok else None
    fault = state.take_fault(request.method, request.url.path)
    reply = fault or invalid or _answer(state, request, path, body, body_ok)
    state.record({"method": request.method, "path": request.url.path, "query": dict(request.query_params),
                  "json": body, "status": reply.status, "authorization": request.headers.get("authorization"),
                  "faulted": fault is not None})
    return JSONResponse(reply.body, reply.status, headers=reply.headers)


# ---------------------------------------------------------------- /_fake control endpoints


async def calls_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.calls.clear()
        return Response(status_code=204)
    return JSONResponse(state.calls)


async def state_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.reset()
    elif request.method == "POST":
        try:
            state.seed(await request.json())
        except (SeedError, json.JSONDecodeError) as exc:
            return JSONResponse({"message": f"bad seed: {exc}"}, 400)
    return JSONResponse(state.snapshot())


async def violations_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.violations.clear()
    return JSONResponse(state.violations)


async def faults_endpoint(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        try:
            state.faults.append(bind_spec(Fault, await request.json()))
        except (SeedError, json.JSONDecodeError) as exc:
            return JSONResponse({"message": f"bad fault: {exc}"}, 400)
    return JSONResponse([asdict(f) for f in state.faults])


def create_app(state: FakeState | None = None, spec: str = DEFAULT_SPEC) -> Starlette:
    app = Starlette(routes=[
        Route("/_fake/calls", calls_endpoint, methods=["GET", "DELETE"]),
        Route("/_fake/violations", violations_endpoint, methods=["GET", "DELETE"]),
        Route("/_fake/state", state_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/_fake/faults", faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/{path:path}", github_endpoint, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ])
    app.state.fake = state or FakeState()
    app.state.spec = description(spec)
    return app


# ---------------------------------------------------------------- running it


class FakeGitHub:
    """The fake on a free loopback port, served by uvicorn on a background thread."""

    def __init__(self, seed: Mapping[str, Any] | None = None, *, bot_login: str = DEFAULT_BOT,
                 host: str = "127.0.0.1", port: int = 0, spec: str = DEFAULT_SPEC) -> None:
        self.state = FakeState(bot_login=bot_login)
        self.state.seed(seed or {})
        self.app = create_app(self.state, spec)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> tuple[uvicorn.Server, socket.socket]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", ws="none")
        return uvicorn.Server(config), sock

    def start(self, timeout: float = 10.0) -> FakeGitHub:
        server, sock = self._bind()
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"fake-github:{self.port}")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"fake GitHub did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Foreground serving for the standalone process (Ctrl-C / SIGTERM to stop)."""
        server, sock = self._bind()
        print(f"FAKE_GITHUB_URL={self.url}", flush=True)
        server.run(sockets=[sock])

    def client(self) -> FakeGitHubClient:
        return FakeGitHubClient(self.url)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class FakeGitHubClient:
    """Synchronous access to the /_fake control endpoints of a running fake."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def calls(self, method: str | None = None, path: str | None = None) -> list[Json]:
        """Recorded GitHub calls, optionally only one method and paths matching a regex."""
        return [c for c in self._json("GET", "/_fake/calls")
                if (method is None or c["method"] == method.upper())
                and (path is None or re.search(path, c["path"]))]

    def clear_calls(self) -> None:
        self._json("DELETE", "/_fake/calls")

    def violations(self) -> list[Json]:
        """Requests the OpenAPI description does not allow ({method, path, query, json, problems})."""
        result: list[Json] = self._json("GET", "/_fake/violations")
        return result

    def clear_violations(self) -> None:
        self._json("DELETE", "/_fake/violations")

    def state(self) -> Json:
        result: Json = self._json("GET", "/_fake/state")
        return result

    def seed(self, data: Mapping[str, Any]) -> Json:
        result: Json = self._json("POST", "/_fake/state", dict(data))
        return result

    def reset(self) -> None:
        self._json("DELETE", "/_fake/state")

    def comments(self, repo: str, issue: int | None = None) -> list[Json]:
        return [c for c in self.state()["comments"] if c["repo"].lower() == repo.lower()
                and (issue is None or c["issue_number"] == issue)]

    def review_comments(self, repo: str, pull: int | None = None) -> list[Json]:
        """Review comments (seeded and created: replies have in_reply_to_id), oldest first."""
        return [c for c in self.state()["review_comments"] if c["repo"].lower() == repo.lower()
                and (pull is None or c["pull_number"] == pull)]

    def reviews(self, repo: str, pull: int | None = None) -> list[Json]:
        return [r for r in self.state()["reviews"] if r["repo"].lower() == repo.lower()
                and (pull is None or r["pull_number"] == pull)]

    def pulls(self, repo: str) -> list[Json]:
        return [p for p in self.state()["pulls"] if p["repo"].lower() == repo.lower()]

    def reactions(self, repo: str) -> list[Json]:
        return [r for r in self.state()["reactions"] if r["repo"].lower() == repo.lower()]

    def fault(self, method: str | None, path_regex: str, status: int = 502, times: int | None = 1,
              body: Json | None = None, headers: Mapping[str, str] | None = None) -> None:
        spec = {"method": method, "path_regex": path_regex, "status": status, "times": times,
                "body": body, "headers": dict(headers or {})}
        self._json("POST", "/_fake/faults", spec)

    def clear_faults(self) -> None:
        self._json("DELETE", "/_fake/faults")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FakeGitHubClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_github", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", type=Path, help="seed JSON file (the POST /_fake/state format)")
    parser.add_argument("--bot-login", default=DEFAULT_BOT)
    parser.add_argument("--spec", default=DEFAULT_SPEC, help='OpenAPI description, e.g. "ghes-3.19"')
    args = parser.parse_args(argv)
    seed = json.loads(args.state.read_text()) if args.state else None
    FakeGitHub(seed, bot_login=args.bot_login, host=args.host, port=args.port, spec=args.spec).serve_forever()


if __name__ == "__main__":
    main()
