"""A scripted, stateless fake of the Anthropic Messages API, for running the real Claude CLI offline.

Point the CLI at it with ``ANTHROPIC_BASE_URL=<server.url>`` and any ``ANTHROPIC_API_KEY``.

Script: a JSON list of rules ``[{"match": "SUBSTRING", "turns": [TURN, ...]}, ...]`` (a rule may add
``"subagent": true`` to answer subagents' requests instead of the main agent's).  A POST /v1/messages
from an agent loop is answered by the first rule whose ``match`` occurs in the request's system prompt
or in the text blocks of its user messages (tool results are not searched), with ``turns[k]`` where
``k`` is the number of assistant messages already in the request: the answer depends on the request
alone, so concurrent CLI runs stay deterministic and nothing is "consumed".

A TURN is a JSON object with one of

* ``{"text": "..."}``                                 -> one text block, stop_reason ``end_turn``
* ``{"tool_use": {"name": "Write", "input": {...}}}`` -> a tool_use block, stop_reason ``tool_use``;
  ``"text"`` may come too (sent first) and ``tool_use`` may be a list (parallel calls)
* ``{"hang": true}``                                  -> never answered; held open until the client goes
* ``{"error": {"status": 500, "type": "api_error", "message": "...", "should_retry": false}}``
  -> an HTTP error in Anthropic's error shape; ``should_retry: false`` adds ``x-should-retry: false``,
  which makes the CLI give up at once instead of retrying 5xx/529/401 with backoff

plus optionally ``"sleep": SECONDS`` (delay before answering) and ``"usage": {"input_tokens": N,
"output_tokens": M}`` (default 1000/100).  A turn index past the end of ``turns`` gets a short text
(kind ``exhausted``).  Requests that are not an agent loop's (see :func:`caller_of`) or that match no
rule get a short text and are recorded as auxiliary.

Control endpoints: ``POST /_script`` (replace the script), ``GET /_requests`` (recorded requests),
``DELETE /_requests`` (clear them), ``GET /_health``.

Standalone: ``python -m tests.support.fake_anthropic --port N --script FILE.json`` (from the repo
root); it prints ``fake_anthropic listening on URL`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

JSON = dict[str, Any]
log = logging.getLogger("fake_anthropic")

AUX_TEXT = "OK"
EXHAUSTED_TEXT = "[fake_anthropic] script exhausted"
DEFAULT_USAGE = {"input_tokens": 1000, "output_tokens": 100}
AUX_USAGE = {"input_tokens": 50, "output_tokens": 5}
TURN_KINDS = ("text", "tool_use", "hang", "error")
_ids = itertools.count(1)

# The last user message of the CLI's background forks, which resend the agent's whole request
# (same system prompt, tools and messages) with one instruction appended.
FORK_MARKERS = (
    "[SUGGESTION MODE:",  # prompt_suggestion (--prompt-suggestions)
    "memory extraction subagent",  # extract_memories
    "Your task is to create a detailed summary of th",  # compact
    "Generate a short kebab-case name",  # rename_generate_name
    "The user stepped away and is coming back",  # away_summary
)


# ----------------------------------------------------------------------------- script


@dataclass(frozen=True)
class Rule:
    match: str
    turns: list[JSON]
    subagent: bool = False  # answer subagents' requests instead of the main agent's


def _tool_calls(turn: JSON) -> list[JSON]:
    calls = turn.get("tool_use") or []
    return calls if isinstance(calls, list) else [calls]


def _check_turn(turn: object, where: str) -> JSON:
    if not isinstance(turn, dict) or not any(k in turn for k in TURN_KINDS):
        raise ValueError(f"{where}: a turn needs one of {TURN_KINDS}, got {turn!r}")
    unknown = set(turn) - {*TURN_KINDS, "sleep", "usage"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    error = turn.get("error")
    if error is not None and not (isinstance(error, dict) and isinstance(error.get("status"), int)):
        raise ValueError(f"{where}: error needs an integer status")
    for call in _tool_calls(turn):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError(f"{where}: tool_use needs a name")
        if not isinstance(call.get("input", {}), dict):
            raise ValueError(f"{where}: tool_use input must be an object")
    return turn


def parse_script(data: object) -> list[Rule]:
    """Validate a script (the decoded JSON list) and turn it into rules; ValueError if malformed."""
    if not isinstance(data, list):
        raise ValueError("a script is a JSON list of rules")
    rules = []
    for i, rule in enumerate(data):
        if not isinstance(rule, dict) or not isinstance(rule.get("match"), str):
            raise ValueError(f"rule {i}: needs a string 'match'")
        if not isinstance(rule.get("turns"), list):
            raise ValueError(f"rule {i}: needs a list 'turns'")
        turns = [_check_turn(t, f"rule {i} turn {k}") for k, t in enumerate(rule["turns"])]
        rules.append(Rule(rule["match"], turns, bool(rule.get("subagent", False))))
    return rules


def load_script(path: str | Path) -> list[Rule]:
    return parse_script(json.loads(Path(path).read_text()))


# ----------------------------------------------------------------------------- requests


def _text_of(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and "text" in b]


def request_text(body: JSON) -> str:
    """The text a rule's ``match`` is searched in: system prompt plus the user messages' text blocks."""
    parts = _text_of(body.get("system"))
    for message in body.get("messages", []):
        if message.get("role") == "user":
            parts += _text_of(message.get("content"))
    return "\n".join(parts)


def tool_results(body: JSON) -> list[str]:
    """The tool results in the request's last user message (the ones new in this turn), as text."""
    last = (body.get("messages") or [{}])[-1]
    content = last.get("content") if last.get("role") == "user" else None
    blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
        if isinstance(content, list) else []
    return [json.dumps(b.get("content")) if not isinstance(b.get("content"), str) else b["content"] for b in blocks]


def assistant_turns(body: JSON) -> int:
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def is_fork_request(body: JSON) -> bool:
    last = (body.get("messages") or [{}])[-1]
    texts = _text_of(last.get("content")) if last.get("role") == "user" else []
    return any(marker in text for text in texts for marker in FORK_MARKERS)


def caller_of(body: JSON, headers: Mapping[str, str]) -> str:
    """Who in the CLI sent a /v1/messages request: ``main``, ``subagent`` or ``auxiliary``.

    Agent loops offer tools; the CLI's side requests (model validation, tool-use summaries, titles,
    classifiers) offer none.  Background forks resend the agent's request with an instruction
    appended (:data:`FORK_MARKERS`).  Subagents send ``x-claude-code-agent-id`` and their system
    prompt's billing line says ``cc_is_subagent=true``.
    """
    if not body.get("tools") or is_fork_request(body):
        return "auxiliary"
    if "x-claude-code-agent-id" in headers or "cc_is_subagent=true" in "".join(_text_of(body.get("system"))):
        return "subagent"
    return "main"


@dataclass
class RecordedRequest:
    received: float
    method: str
    path: str
    model: str | None = None
    stream: bool | None = None
    session_id: str | None = None  # the CLI's x-claude-code-session-id: one per CLI run
    caller: str | None = None  # main | subagent | auxiliary (POST /v1/messages only)
    auxiliary: bool = False  # answered outside the script
    rule: int | None = None
    turn: int | None = None
    kind: str = "aux"  # text | tool_use | hang | error | exhausted | aux | unknown
    status: int | None = None
    finished: float | None = None  # when the response was fully sent
    disconnected: float | None = None  # when the client went away from a hang
    tool_results: list[str] = field(default_factory=list)  # what the tools answered, as the model reads it
    prompt: str | None = None  # the user messages' text (not the system prompt): what the model was asked
    system: str | None = None  # the system prompt's text (the CLI's, plus what the bot appends: CLAUDE.md)

    def finish(self) -> None:
        self.finished = time.time()


@dataclass
class FakeState:
    """Script and request log, shared by the server thread and the test."""

    rules: list[Rule] = field(default_factory=list)
    records: list[RecordedRequest] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_rules(self, rules: list[Rule]) -> None:
        with self.lock:
            self.rules = rules

    def add(self, record: RecordedRequest) -> RecordedRequest:
        with self.lock:
            self.records.append(record)
        return record

    def snapshot(self) -> list[JSON]:
        with self.lock:
            return [asdict(r) for r in self.records]

    def clear(self) -> None:
        with self.lock:
            self.records.clear()

    def select(self, body: JSON, caller: str) -> tuple[int, int, JSON | None] | None:
        """(rule index, turn index, turn or None past the end) for an agent's request, else None."""
        if caller == "auxiliary":
            return None
        haystack, k = request_text(body), assistant_turns(body)
        with self.lock:
            rules = self.rules
        for i, rule in enumerate(rules):
            if rule.subagent == (caller == "subagent") and rule.match in haystack:
                return i, k, rule.turns[k] if k < len(rule.turns) else None
        return None


# ----------------------------------------------------------------------------- responses


def content_blocks(turn: JSON) -> list[JSON]:
    blocks: list[JSON] = [{"type": "text", "text": turn["text"]}] if turn.get("text") else []
    for call in _tool_calls(turn):
        tool_id = f"toolu_fake_{next(_ids):06d}"
        blocks.append({"type": "tool_use", "id": tool_id, "name": call["name"], "input": call.get("input", {})})
    return blocks


def message_json(model: str, blocks: list[JSON], usage: JSON) -> JSON:
    """A complete (non-streaming) Messages API response."""
    return {
        "id": f"msg_fake_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _chunks(text: str, size: int = 64) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _block_events(index: int, block: JSON) -> Iterator[JSON]:
    if block["type"] == "text":
        yield {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        deltas = [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
    else:
        yield {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
        deltas = [{"type": "input_json_delta", "partial_json": c} for c in _chunks(json.dumps(block["input"]))]
    for delta in deltas:
        yield {"type": "content_block_delta", "index": index, "delta": delta}
    yield {"type": "content_block_stop", "index": index}


def stream_events(message: JSON) -> Iterator[JSON]:
    """Anthropic's SSE event sequence for a complete message."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    yield {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield {"type": "message_delta", "delta": delta, "usage": {"output_tokens": message["usage"]["output_tokens"]}}
    yield {"type": "message_stop"}


def sse_body(message: JSON) -> Iterator[str]:
    for event in stream_events(message):
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


def message_response(body: JSON, blocks: list[JSON], usage: JSON, rec: RecordedRequest) -> Response:
    message = message_json(str(body.get("model", "claude-fake")), blocks, usage)
    rec.status = 200
    done = BackgroundTask(rec.finish)
    if body.get("stream"):
        return StreamingResponse(sse_body(message), media_type="text/event-stream", background=done)
    return JSONResponse(message, background=done)


def error_response(error: JSON, rec: RecordedRequest) -> Response:
    status = int(error["status"])
    default_type = "overloaded_error" if status == 529 else "api_error"
    payload = {"type": "error", "error": {"type": error.get("type", default_type), "message": error.get("message", "")}}
    headers = {"request-id": f"req_fake_{next(_ids):06d}"}
    if error.get("should_retry") is False:
        headers["x-should-retry"] = "false"
    rec.status = status
    return JSONResponse(payload, status_code=status, headers=headers, background=BackgroundTask(rec.finish))


async def hold_open(request: Request, state: FakeState, rec: RecordedRequest) -> Response:
    """Answer nothing until the client disconnects (recorded) or the server stops."""
    while not state.closing.is_set():
        if await request.is_disconnected():
            rec.disconnected = time.time()
            break
        await asyncio.sleep(0.05)
    return Response(status_code=499)


def turn_kind(turn: JSON) -> str:
    return next((k for k in ("hang", "error", "tool_use") if turn.get(k)), "text")


async def answer_turn(request: Request, body: JSON, turn: JSON, rec: RecordedRequest) -> Response:
    if turn.get("sleep"):
        await asyncio.sleep(float(turn["sleep"]))
    if turn.get("hang"):
        return await hold_open(request, _state(request), rec)
    if turn.get("error"):
        return error_response(turn["error"], rec)
    return message_response(body, content_blocks(turn), {**DEFAULT_USAGE, **turn.get("usage", {})}, rec)


# ----------------------------------------------------------------------------- endpoints


def _state(request: Request) -> FakeState:
    state: FakeState = request.app.state.fake
    return state


def _record(request: Request, body: JSON | None = None) -> RecordedRequest:
    body = body or {}
    rec = RecordedRequest(
        received=time.time(),
        method=request.method,
        path=request.url.path,
        model=body.get("model"),
        stream=body.get("stream"),
        session_id=request.headers.get("x-claude-code-session-id"),
        tool_results=tool_results(body),
        prompt="\n".join(t for m in body.get("messages", []) if m.get("role") == "user"
                         for t in _text_of(m.get("content"))) or None,
        system="\n".join(_text_of(body.get("system"))) or None,
    )
    return _state(request).add(rec)


def _done(rec: RecordedRequest, status: int, auxiliary: bool = True) -> None:
    rec.auxiliary, rec.status = auxiliary, status
    rec.finish()


async def messages(request: Request) -> Response:
    body = await request.json()
    rec = _record(request, body)
    rec.caller = caller_of(body, request.headers)
    chosen = _state(request).select(body, rec.caller)
    if chosen is None:
        rec.auxiliary = True
        return message_response(body, [{"type": "text", "text": AUX_TEXT}], AUX_USAGE, rec)
    rec.rule, rec.turn, turn = chosen
    if turn is None:
        rec.kind = "exhausted"
        return message_response(body, [{"type": "text", "text": EXHAUSTED_TEXT}], DEFAULT_USAGE, rec)
    rec.kind = turn_kind(turn)
    return await answer_turn(request, body, turn, rec)


async def count_tokens(request: Request) -> Response:
    body = await request.json()
    _done(_record(request, body), 200)
    return JSONResponse({"input_tokens": max(1, len(json.dumps(body)) // 4)})


async def hello(request: Request) -> Response:
    """The CLI's connectivity check (HEAD /api/hello), sent unless non-essential traffic is off."""
    _done(_record(request), 200)
    return Response(status_code=200) if request.method == "HEAD" else JSONResponse({"message": "hello"})


async def unknown(request: Request) -> Response:
    rec = _record(request)
    rec.kind = "unknown"
    _done(rec, 404)
    log.warning("fake_anthropic: unknown request %s %s", request.method, request.url.path)
    payload = {"type": "error", "error": {"type": "not_found_error", "message": f"{request.url.path} not faked"}}
    return JSONResponse(payload, status_code=404)


async def post_script(request: Request) -> Response:
    try:
        rules = parse_script(await request.json())
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        return JSONResponse({"error": str(exc)}, status_code=400)
    _state(request).set_rules(rules)
    return JSONResponse({"rules": len(rules)})


async def get_requests(request: Request) -> Response:
    return JSONResponse(_state(request).snapshot())


async def delete_requests(request: Request) -> Response:
    _state(request).clear()
    return JSONResponse({"cleared": True})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(state: FakeState | None = None) -> Starlette:
    """The Starlette app; ``app.state.fake`` is the :class:`FakeState` it serves."""
    app = Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/api/hello", hello, methods=["GET", "HEAD"]),
            Route("/_script", post_script, methods=["POST", "PUT"]),
            Route("/_requests", get_requests, methods=["GET"]),
            Route("/_requests", delete_requests, methods=["DELETE"]),
            Route("/_health", health, methods=["GET"]),
            Route("/{path:path}", unknown, methods=ALL_METHODS),
        ]
    )
    app.state.fake = state or FakeState()
    return app


# ----------------------------------------------------------------------------- running


class FakeAnthropicServer:
    """The fake served by uvicorn on a background thread; ``port=0`` takes a free port at start().

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, script: list[JSON] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = FakeState(parse_script(script or []))
        self.host, self.port = host, port
        config = uvicorn.Config(create_app(self.state), log_level="warning", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._thread is None:
            raise RuntimeError("start() the server first")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> FakeAnthropicServer:
        sock = socket.create_server((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fake-anthropic", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake_anthropic server did not start")
            time.sleep(0.01)
        return self

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        finally:
            sock.close()

    def stop(self) -> None:
        self.state.closing.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def set_script(self, script: list[JSON]) -> None:
        self.state.set_rules(parse_script(script))

    def requests(self) -> list[JSON]:
        """Every recorded request (see :class:`RecordedRequest`), oldest first."""
        return self.state.snapshot()

    def clear_requests(self) -> None:
        self.state.clear()

    def __enter__(self) -> FakeAnthropicServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_anthropic")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes a free port (printed on stdout)")
    parser.add_argument("--script", type=Path, help="JSON file with the list of rules")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    script = json.loads(args.script.read_text()) if args.script else []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with FakeAnthropicServer(script, args.host, args.port) as server:
        print(f"fake_anthropic listening on {server.url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
