"""GET /api/agent-work-orders/{id}/logs and /logs/stream on a real server (uvicorn on loopback): pages and
filters, the live stream (past entries, then new ones as they are stored, resumed by Last-Event-ID, ended by the
final status), the token, bad input as 4xx, and the bound on open streams."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.models import Status, WorkOrder
from bot.runtime import Runtime, build_runtime
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from bot.web.logs_api import StreamSlots
from bot.worklog import LogKind, WorkLog
from tests.conftest import AUTH, make_settings

PREFIX = "/api/agent-work-orders"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Runtime]]:
    """The app on a loopback port, its runtime started by the lifespan (no workers), one work order `wo-1`."""
    settings = make_settings(tmp_path, storage_type="sqlite")
    runtime = build_runtime(settings, github=FakeGitHub(), agent=FakeAgent())
    app = create_app(runtime)
    runtime.app = app  # type: ignore[attr-defined]  # the bound-on-streams test swaps the app's slots
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, ws="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    await runtime.store.create_work_order(WorkOrder(agent_work_order_id="wo-1", repository_url="https://github.com/o/r",
                                                    status=Status.RUNNING))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", runtime
    finally:
        server.should_exit = True
        await task


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any], str | None]]:
    """(event, data, id) of each Server-Sent Event, pings skipped."""
    name, data, event_id = "message", "", None
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield name, json.loads(data), event_id
            name, data, event_id = "message", "", None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data += value
        elif field == "id":
            event_id = value


async def test_the_list_pages_and_filters_in_archons_shape(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    log = WorkLog(runtime.store)
    await log.step_started("wo-1", "plan", 1)
    await log.tool_use("wo-1", "plan", "Read README.md")
    await log.write("wo-1", LogKind.ERROR, "boom", step="implement", level="error")
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        body = (await client.get(f"{PREFIX}/wo-1/logs")).json()
        assert [e["message"] for e in body["log_entries"]] == ["plan started", "Read README.md", "boom"]
        first = body["log_entries"][0]
        assert (first["event"], first["step"], first["work_order_id"], first["timestamp"]) == (
            "step_started", "plan", "wo-1", first["at"])
        assert (body["agent_work_order_id"], body["total"], body["limit"], body["offset"]) == ("wo-1", 3, 100, 0)
        assert body["next_after"] == body["log_entries"][-1]["id"]
        assert [e["message"] for e in (await client.get(f"{PREFIX}/wo-1/logs?level=error")).json()["log_entries"]] \
            == ["boom"]
        assert [e["message"] for e in (await client.get(f"{PREFIX}/wo-1/logs?step=plan&offset=1")).json()[
            "log_entries"]] == ["Read README.md"]
        after = body["log_entries"][0]["id"]
        paged = (await client.get(f"{PREFIX}/wo-1/logs", params={"after": after, "limit": 1})).json()
        assert [e["message"] for e in paged["log_entries"]] == ["Read README.md"]
        assert (await client.get(f"{PREFIX}/wo-1/logs?step=plan")).json()["total"] == 2
        shown = (await client.get(f"{PREFIX}/wo-1")).json()
        assert (shown["current_step"], shown["current_tool_use"]) == ("plan", "Read README.md")


async def test_the_stream_keeps_entries_since_a_time_as_archons_does(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    log = WorkLog(runtime.store)
    await log.write("wo-1", LogKind.NOTE, "old")
    since = datetime.now(UTC)
    await log.write("wo-1", LogKind.NOTE, "new")
    await log.status("wo-1", Status.COMPLETED)
    naive = since.replace(tzinfo=None).isoformat()  # no zone: UTC
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client, \
            client.stream("GET", f"{PREFIX}/wo-1/logs/stream", params={"since": naive}) as response:
        got = [data.get("message") async for _, data, _ in events(response)]
    assert got == ["new", "completed", None]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "offset=-1", "after=x", "level=loud", "since=yesterday",
                                   "step=%27%3B%20drop", "after=99999999999999999999"])
async def test_bad_queries_are_422_never_5xx(served: tuple[str, Runtime], query: str) -> None:
    url, _ = served
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        for path in ("logs", "logs/stream"):
            response = await client.get(f"{PREFIX}/wo-1/{path}?{query}")
            assert response.status_code == 422, (path, response.text)
            assert "detail" in response.json()


async def test_both_routes_need_the_token_and_an_existing_work_order(served: tuple[str, Runtime]) -> None:
    url, _ = served
    async with httpx.AsyncClient(base_url=url) as client:
        for path in ("logs", "logs/stream"):
            assert (await client.get(f"{PREFIX}/wo-1/{path}")).status_code == 401
            wrong = {"Authorization": "Bearer not-the-token"}
            assert (await client.get(f"{PREFIX}/wo-1/{path}", headers=wrong)).status_code == 401
            assert (await client.get(f"{PREFIX}/wo-nope/{path}", headers=AUTH)).status_code == 404
            assert (await client.get(f"{PREFIX}/..%2F..%2Fetc/{path}", headers=AUTH)).status_code == 404


async def test_the_stream_sends_the_past_then_live_entries_and_ends_with_the_final_status(
        served: tuple[str, Runtime]) -> None:
    url, runtime = served
    log = WorkLog(runtime.store)
    await log.step_started("wo-1", "implement", 1)
    seen: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as client, \
            client.stream("GET", f"{PREFIX}/wo-1/logs/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for name, data, _ in events(response):
            seen.append((name, data.get("message", "")))
            if data.get("message") == "implement started":  # the step is running: the tool use comes live
                await log.tool_use("wo-1", "implement", "Write hello.txt")
            elif data.get("message") == "Write hello.txt":
                await log.status("wo-1", Status.COMPLETED)
    assert seen == [("log", "implement started"), ("log", "Write hello.txt"), ("log", "completed"), ("end", "")]


async def test_a_reconnecting_client_resumes_after_its_last_event_id(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    log = WorkLog(runtime.store)
    first = await log.write("wo-1", LogKind.NOTE, "one")
    await log.write("wo-1", LogKind.NOTE, "two")
    await log.status("wo-1", Status.FAILED, "it broke")
    assert first is not None
    async with httpx.AsyncClient(base_url=url, headers={**AUTH, "Last-Event-ID": str(first.id)}) as client, \
            client.stream("GET", f"{PREFIX}/wo-1/logs/stream?after=0&level=error") as response:
        got = [(name, data.get("message"), event_id) async for name, data, event_id in events(response)]
    assert [g[:2] for g in got] == [("log", "failed: it broke"), ("end", None)]
    assert got[0][2] is not None and int(got[0][2]) > first.id


async def test_streams_past_the_bound_are_refused_and_a_gone_client_frees_its_slot(
        served: tuple[str, Runtime]) -> None:
    url, runtime = served
    slots = StreamSlots(limit=1)
    runtime.app.state.log_streams = slots  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as client:
        async with client.stream("GET", f"{PREFIX}/wo-1/logs/stream") as response:
            assert response.status_code == 200
            refused = await client.get(f"{PREFIX}/wo-1/logs/stream")
            assert refused.status_code == 503 and "too many log streams" in refused.json()["detail"]
            assert slots.open == 1
        for _ in range(100):  # the server notices the disconnect and ends the stream's generator
            if slots.open == 0:
                break
            await asyncio.sleep(0.05)
        assert slots.open == 0
        async with client.stream("GET", f"{PREFIX}/wo-1/logs/stream") as again:
            assert again.status_code == 200


async def test_a_work_order_that_ended_without_a_final_entry_ends_its_stream(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    await WorkLog(runtime.store).step_started("wo-1", "plan", 1)
    await runtime.store.update_work_order("wo-1", {"status": Status.COMPLETED})
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=15) as client:
        async with client.stream("GET", f"{PREFIX}/wo-1/logs/stream") as response:
            assert [name async for name, _, _ in events(response)] == ["log", "end"]
        shown = (await client.get(f"{PREFIX}/wo-1")).json()
        assert (shown["status"], shown["current_step"], shown["current_tool_use"]) == ("completed", None, None)


async def test_the_dashboards_list_stream_shows_a_work_order_this_process_queued_at_once(
    served: tuple[str, Runtime],
) -> None:
    """Intake's "queued" fires the runtime's pulse: a watching list re-reads without waiting for its poll (which
    is kept long here, so only the pulse can be in time)."""
    from bot.web.dashboard import live

    url, runtime = served
    live.LIST_SECONDS, before = 30.0, live.LIST_SECONDS
    try:
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as client, \
                client.stream("GET", "/events") as answer:
            lines = answer.aiter_lines()
            assert await anext(lines) == "event: rows"
            await runtime.store.create_work_order(WorkOrder(agent_work_order_id="wo-2", repository_url="https://github.com/o/r"))
            started = asyncio.get_running_loop().time()
            runtime.changes.fire()
            async with asyncio.timeout(5):
                async for line in lines:
                    if 'data-id="wo-2"' in line:
                        break
            assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        live.LIST_SECONDS = before
