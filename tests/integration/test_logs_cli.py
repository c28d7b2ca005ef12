"""`awo logs` as a user runs it: the installed command against the real app on loopback, over AWO_URL and
AWO_API_TOKEN like `awo list` and `awo show`. It follows a running work order to its end; when the server drops
the stream mid-way it resumes after the last entry it printed, so none is printed twice or missed; an unknown id,
a wrong token and an unreachable server are one line each."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.models import LogEntry, Status, WorkOrder
from bot.progress import log_line
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.store.factory import build_store
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from bot.worklog import WorkLog
from tests.conftest import API_TOKEN, make_settings

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "Write x\x1b]0;pwned\x07\u202eevil"

Scope = dict[str, Any]


class StreamCutter:
    """The app, except that the first log stream is cut (the connection dropped, its response unfinished) just
    before its `drop_at`-th entry would be sent. Records each stream request's Last-Event-ID."""

    def __init__(self, app: Any, drop_at: int) -> None:
        self.app, self.drop_at = app, drop_at
        self.resumed_after: list[str | None] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/logs/stream"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        self.resumed_after.append(headers[b"last-event-id"].decode() if b"last-event-id" in headers else None)
        if len(self.resumed_after) > 1:
            return await self.app(scope, receive, send)
        sent = 0

        async def cutting(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body" and b"event: log" in message.get("body", b""):
                sent += 1
                if sent == self.drop_at:
                    raise ConnectionAbortedError("the test drops the stream")
            await send(message)

        return await self.app(scope, receive, cutting)


class Served:
    def __init__(self, url: str, settings: Settings, cutter: StreamCutter) -> None:
        self.url, self.settings, self.cutter = url, settings, cutter


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The app on a loopback port in a thread (SQLite, no workers), the second entry of its first stream cut."""
    settings = make_settings(tmp_path, storage_type="sqlite")
    in_store(settings, lambda store: store.create_work_order(WorkOrder(
        agent_work_order_id="wo-live", repository_url="https://github.com/o/r", status=Status.RUNNING)))
    cutter = StreamCutter(create_app(build_runtime(settings, github=FakeGitHub(), agent=FakeAgent())), drop_at=2)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(cutter, lifespan="on", log_config=None, access_log=False, ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", settings, cutter)
    server.should_exit = True
    thread.join(20)
    sock.close()


def in_store(settings: Settings, work: Any) -> Any:
    """`work(store)` on a store of its own over the server's SQLite file, as another process writes it."""
    async def main() -> Any:
        store = build_store(settings)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def awo(*args: str, url: str, token: str | None = API_TOKEN) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AWO_URL": url,
           "PYTHONPATH": str(ROOT)}
    if token is not None:
        env["AWO_API_TOKEN"] = token
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_awo(*args: str, url: str, token: str | None = API_TOKEN) -> tuple[int, str, str]:
    with awo(*args, url=url, token=token) as process:
        out, err = process.communicate(timeout=60)
    return process.returncode, out, err


async def work_on(log: WorkLog) -> None:
    """A work order's life as a worker logs it, with pauses, so a follower sees it live."""
    await log.step_started("wo-live", "implement", 1)
    for n in range(6):
        await log.tool_use("wo-live", "implement", f"Read file-{n}.txt" if n != 3 else HOSTILE)
        await asyncio.sleep(0.15)
    await log.step_finished("wo-live", "implement", error=None, duration=1.0, cost_usd=0.01, num_turns=2)
    await log.status("wo-live", Status.COMPLETED)


def all_lines(settings: Settings) -> list[str]:
    entries: list[LogEntry] = in_store(settings, lambda store: store.list_logs("wo-live", 0, 1000))
    return [log_line(e) for e in entries]


def test_follow_prints_a_running_work_order_live_to_its_end_through_a_dropped_stream(served: Served) -> None:
    in_store(served.settings, lambda store: WorkLog(store).status("wo-live", Status.RUNNING, "claimed by w-1"))
    with awo("logs", "wo-live", "--follow", url=served.url) as follower:
        assert follower.stdout is not None
        first = follower.stdout.readline()  # the page of what is there: the follower now waits on the stream
        in_store(served.settings, lambda store: work_on(WorkLog(store)))
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    printed = (first + out).splitlines()
    assert printed == all_lines(served.settings)  # each entry once, in order, none missed
    assert len(printed) == 10 and "claimed by w-1" in printed[0] and "completed" in printed[-1]
    assert not any(c in out for c in "\x1b\x07\u202e")  # sanitised as today's `awo logs` prints it
    first_stream, resumed = served.cutter.resumed_after
    assert resumed is not None and first_stream is not None and int(resumed) > int(first_stream)


def test_without_follow_the_log_so_far_is_printed_and_the_command_returns(served: Served) -> None:
    in_store(served.settings, lambda store: work_on(WorkLog(store)))
    status, out, err = run_awo("logs", "wo-live", url=served.url)
    assert (status, err) == (0, "")
    assert out.splitlines() == all_lines(served.settings)
    entries = all_lines(served.settings)
    status, out, _ = run_awo("logs", "wo-live", "--after", "0", "--follow", url=served.url)
    assert status == 0 and out.splitlines() == entries  # ended already: printed, then done, no stream needed
    assert served.cutter.resumed_after == []


@pytest.mark.parametrize(("args", "token", "said"), [
    (("logs", "wo-nothere"), API_TOKEN, "awo: no work order wo-nothere on http://127.0.0.1:"),
    (("logs", "wo-nothere", "--follow"), API_TOKEN, "awo: no work order wo-nothere on http://127.0.0.1:"),
    (("logs", "wo-live", "--follow"), "wrong-token", "refused the API token: set AWO_API_TOKEN to its token"),
    (("logs", "wo-live"), None, "awo: AWO_API_TOKEN is not set"),
    (("logs", "../x"), API_TOKEN, "is not a work order id"),
])
def test_refusals_are_one_line_and_exit_1(served: Served, args: tuple[str, ...], token: str | None,
                                          said: str) -> None:
    status, out, err = run_awo(*args, url=served.url, token=token)
    assert (status, out) == (1, "")
    assert said in err and err.count("\n") == 1


def test_an_unreachable_server_is_named() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    status, out, err = run_awo("logs", "wo-1", "--follow", url=f"http://127.0.0.1:{port}")
    assert (status, out) == (1, "")
    assert f"cannot reach the server at http://127.0.0.1:{port}" in err and "AWO_URL" in err
