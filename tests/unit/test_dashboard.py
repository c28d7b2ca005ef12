"""The dashboard's pages as an attacker and an operator meet them: the login and its cookie, redirects, CSRF, the
API staying token-only, escaping, the list's filters and pages, the forms, and the live streams' shapes.
(tests/browser drives the same pages in a real Chromium.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.models import Status, WorkOrder
from bot.runtime import Runtime, build_runtime
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from bot.web.session import COOKIE, SESSION_SECONDS, Sessions
from bot.worklog import LogKind, WorkLog
from tests.conftest import API_TOKEN, AUTH, make_settings

HTML = {"Accept": "text/html"}
EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def order(number: int = 3, **fields: object) -> WorkOrder:
    values: dict[str, object] = {"repository_url": "https://github.com/o/r", "repo_full_name": "o/r",
                                 "issue_number": number, "user_request": f"request {number}"}
    return WorkOrder(**{**values, **fields})  # type: ignore[arg-type]


def run(runtime: Runtime, *orders: WorkOrder) -> None:
    async def put() -> None:
        for one in orders:
            await runtime.store.create_work_order(one)
    asyncio.run(put())


@pytest.fixture
def anonymous(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        yield client


def log_in(client: TestClient, token: str = API_TOKEN, target: str = "/") -> str:
    answer = client.post("/login", data={"token": token, "next": target})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/", headers=HTML).text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_a_page_without_a_login_redirects_to_it_and_shows_nothing(anonymous: TestClient, runtime: Runtime) -> None:
    run(runtime, secret := order(user_request="the secret plan"))
    for path in ("/", f"/work-orders/{secret.id}", "/repositories", "/costs?since=2026-01-01"):
        answer = anonymous.get(path, headers=HTML)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2F")
        assert "secret plan" not in answer.text
    assert anonymous.get("/events").status_code == 303
    cancel = anonymous.post(f"/work-orders/{secret.id}/cancel", data={"csrf": "x"})
    assert cancel.status_code == 401
    assert asyncio.run(runtime.store.get_work_order(secret.id)).status is Status.PENDING


def test_a_link_from_another_site_reloads_from_ours_once_instead_of_asking_to_log_in_again(
    anonymous: TestClient, runtime: Runtime,
) -> None:
    """SameSite=Strict keeps the cookie off a navigation from github.com: a same-origin reload then carries it."""
    run(runtime, one := order())
    answer = anonymous.get(f"/work-orders/{one.id}", headers={**HTML, "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 200 and 'http-equiv="refresh"' in answer.text and one.user_request not in answer.text
    log_in(anonymous)
    again = anonymous.get(f"/work-orders/{one.id}", headers={**HTML, "Sec-Fetch-Site": "same-origin"})
    assert again.status_code == 200 and one.user_request in again.text


def test_the_login_sets_a_strict_httponly_cookie_that_is_not_the_token(anonymous: TestClient) -> None:
    wrong = anonymous.post("/login", data={"token": "guess", "next": "/"})
    assert wrong.status_code == 401 and 'class="error"' in wrong.text and "set-cookie" not in wrong.headers
    right = anonymous.post("/login", data={"token": API_TOKEN, "next": "/costs"})
    assert right.status_code == 303 and right.headers["location"] == "/costs"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert f"Max-Age={SESSION_SECONDS}" in cookie and API_TOKEN not in cookie and "Secure" not in cookie
    assert anonymous.get("/", headers=HTML).status_code == 200
    assert anonymous.get("/login").status_code == 303  # logged in already: on to the page


def test_the_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://awo.example.com")
    runtime = build_runtime(settings, github=FakeGitHub(permissions={}, token=None), agent=FakeAgent(files={}))
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        answer = client.post("/login", data={"token": API_TOKEN, "next": "/"})
    assert "; Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example", "javascript:1",
                                    "/ok\r\nSet-Cookie: x=1", ""])
def test_after_login_it_goes_only_to_a_path_of_ours(anonymous: TestClient, target: str) -> None:
    answer = anonymous.post("/login", data={"token": API_TOKEN, "next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_guessing_the_token_is_slowed_to_ten_tries_a_minute(anonymous: TestClient) -> None:
    for _ in range(10):
        assert anonymous.post("/login", data={"token": "guess", "next": "/"}).status_code == 401
    assert anonymous.post("/login", data={"token": API_TOKEN, "next": "/"}).status_code == 429


def test_a_forged_expired_or_other_tokens_cookie_is_no_login(anonymous: TestClient) -> None:
    now = [1_800_000_000.0]
    ours = Sessions(API_TOKEN, clock=lambda: now[0])
    fresh = ours.issue()
    assert ours.check(fresh) is not None
    forged = fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB")
    assert ours.check(forged) is None
    assert ours.check(Sessions("another-token", clock=lambda: now[0]).issue()) is None
    now[0] += SESSION_SECONDS + 1
    assert ours.check(fresh) is None
    for cookie in (forged, "v1.1.x.y", "", "a" * 500):
        anonymous.cookies.set(COOKIE, cookie)
        assert anonymous.get("/", headers=HTML).status_code == 303


def test_the_cookie_never_opens_the_api(anonymous: TestClient) -> None:
    log_in(anonymous)
    assert anonymous.get("/api/agent-work-orders/").status_code == 401
    assert anonymous.get("/metrics").status_code == 401


def test_a_form_without_its_csrf_token_or_from_another_site_changes_nothing(
    anonymous: TestClient, runtime: Runtime,
) -> None:
    run(runtime, one := order())
    csrf = log_in(anonymous)
    path = f"/work-orders/{one.id}/cancel"
    assert anonymous.post(path, data={"other": "1"}).status_code == 403
    assert anonymous.post(path, data={"csrf": csrf + "x"}).status_code == 403
    assert anonymous.post(path, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert anonymous.post(path, data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert anonymous.post(path, json={"csrf": csrf}).status_code == 415
    assert asyncio.run(runtime.store.get_work_order(one.id)).status is Status.PENDING
    done = anonymous.post(path, data={"csrf": csrf}, headers={"Origin": "http://testserver"})
    assert done.status_code == 303 and done.headers["location"] == f"/work-orders/{one.id}?notice=cancelled"
    assert asyncio.run(runtime.store.get_work_order(one.id)).status is Status.CANCELLED
    page = anonymous.get(done.headers["location"], headers=HTML).text
    assert "Work order cancelled." in page and 'id="retry-form" method' in page
    retried = anonymous.post(f"/work-orders/{one.id}/retry", data={"csrf": csrf})
    assert retried.status_code == 303 and asyncio.run(runtime.store.get_work_order(one.id)).status is Status.PENDING
    assert anonymous.post(f"/work-orders/{one.id}/retry", data={"csrf": csrf}).status_code == 409


def test_text_from_issues_and_the_model_is_escaped_and_no_script_is_inline(
    anonymous: TestClient, runtime: Runtime,
) -> None:
    run(runtime, one := order(user_request=EVIL, repo_full_name="o/r"))
    asyncio.run(WorkLog(runtime.store).write(one.id, LogKind.TOOL_USE, f"Bash {EVIL}", step="implement"))
    log_in(anonymous)
    for path in ("/", f"/work-orders/{one.id}"):
        answer = anonymous.get(path, headers=HTML)
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), "an inline script"
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


def test_the_list_filters_and_pages_by_a_cursor(anonymous: TestClient, runtime: Runtime) -> None:
    run(runtime, *[order(n) for n in range(1, 61)], order(7, repo_full_name="o/other", status=Status.FAILED))
    log_in(anonymous)
    first = anonymous.get("/", headers=HTML).text
    assert first.count("<tr data-id=") == 50 and 'id="next-page"' in first
    following = re.search(r'id="next-page" rel="next" href="([^"]+)"', first)
    assert following
    second = anonymous.get(following.group(1).replace("&amp;", "&"), headers=HTML).text
    assert second.count("<tr data-id=") == 11 and 'id="next-page"' not in second and 'id="first-page"' in second
    assert not set(re.findall(r'data-id="([^"]+)"', first)) & set(re.findall(r'data-id="([^"]+)"', second))
    failed = anonymous.get("/?status=failed&repository=&issue=", headers=HTML).text
    assert failed.count("<tr data-id=") == 1 and "o/other" in failed
    issue = anonymous.get("/?repository=o/r&issue=7", headers=HTML).text
    assert issue.count("<tr data-id=") == 1
    today = anonymous.get("/?since=2000-01-01&until=2000-01-02", headers=HTML).text
    assert "No work orders match these filters" in today
    bad = anonymous.get("/?issue=-1&status=lost", headers=HTML)
    assert bad.status_code == 422 and "not understood" in bad.text


def test_a_script_with_the_token_still_gets_the_work_orders_json(anonymous: TestClient, runtime: Runtime) -> None:
    run(runtime, one := order())
    answer = anonymous.get(f"/work-orders/{one.id}", headers=AUTH)
    assert answer.status_code == 200 and answer.json()["agent_work_order_id"] == one.id
    page = anonymous.get(f"/work-orders/{one.id}", headers={**AUTH, **HTML})
    assert page.status_code == 200 and 'id="wo-status"' in page.text
    assert anonymous.get("/work-orders/wo-doesnotexist", headers={**AUTH, **HTML}).status_code == 404


def test_repositories_are_added_and_removed_from_their_page(anonymous: TestClient, runtime: Runtime) -> None:
    csrf = log_in(anonymous)
    added = anonymous.post("/repositories", data={"csrf": csrf, "repository_url": "octo/repo"})
    assert added.status_code == 303 and added.headers["location"] == "/repositories?notice=added"
    repos = asyncio.run(runtime.store.list_repositories())
    assert [r.full_name for r in repos] == ["octo/repo"]
    page = anonymous.get("/repositories?notice=added", headers=HTML).text
    assert "Repository added." in page and f'data-id="{repos[0].id}"' in page
    twice = anonymous.post("/repositories", data={"csrf": csrf, "repository_url": "octo/repo"})
    assert twice.status_code == 409
    for bad in ("https://user:pw@github.com/o/r", "not a repo", "", "x" * 600):
        refused = anonymous.post("/repositories", data={"csrf": csrf, "repository_url": bad})
        assert refused.status_code == 422 and 'class="error"' in refused.text
    removed = anonymous.post(f"/repositories/{repos[0].id}/remove", data={"csrf": csrf})
    assert removed.status_code == 303 and asyncio.run(runtime.store.list_repositories()) == []
    assert anonymous.post(f"/repositories/{repos[0].id}/remove", data={"csrf": csrf}).status_code == 404


def test_a_notice_is_one_of_ours_never_text_from_the_link(anonymous: TestClient) -> None:
    log_in(anonymous)
    page = anonymous.get("/repositories?notice=Your+token+expired%2C+enter+it+at+evil.example", headers=HTML)
    assert "evil.example" not in page.text


def test_without_an_api_token_the_dashboard_says_how_to_turn_it_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token=None)
    runtime = build_runtime(settings, github=FakeGitHub(permissions={}, token=None), agent=FakeAgent(files={}))
    with TestClient(create_app(runtime), follow_redirects=False) as client:
        assert client.get("/", headers=HTML).headers["location"].startswith("/login")
        page = client.get("/login")
        assert page.status_code == 403 and "AWO_API_TOKEN" in page.text
        assert client.post("/login", data={"token": "", "next": "/"}).status_code == 403


def test_the_work_orders_stream_sends_its_entries_its_state_and_an_end(
    anonymous: TestClient, runtime: Runtime,
) -> None:
    run(runtime, one := order(status=Status.FAILED, error_message="boom", total_cost_usd=0.25))
    log = WorkLog(runtime.store)
    asyncio.run(log.step_started(one.id, "implement", 1))
    asyncio.run(log.tool_use(one.id, "implement", "Write hello.txt"))
    asyncio.run(log.status(one.id, Status.FAILED, "boom"))
    log_in(anonymous)
    with anonymous.stream("GET", f"/work-orders/{one.id}/events?after=0") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = "\n".join(answer.iter_lines())
    events = re.findall(r"^event: (\w+)", text, re.M)
    assert events == ["log", "log", "log", "state", "end"], text
    assert '"can_retry": true' in text and '"cost": "$0.2500"' in text and "Write hello.txt" in text
    assert anonymous.get(f"/work-orders/{one.id}/events?after=-1").status_code == 422


async def test_a_running_work_orders_cost_so_far_follows_its_tool_uses(tmp_path: Path) -> None:
    """The row's total grows when a step ends; meanwhile each tool use carries the running count, which the page
    shows (never less than the row's total)."""
    from bot.store.sqlite import SqliteStore
    from bot.web.dashboard.live import follow

    store = SqliteStore(tmp_path / "wo.db")
    await store.open()
    try:
        one = await store.create_work_order(order(status=Status.RUNNING, total_cost_usd=0.10))
        log = WorkLog(store)
        await log.step_started(one.id, "implement", 1)
        await log.tool_use(one.id, "implement", "Read a.txt", 0.12)
        events = follow(store, one, 0)
        seen = [await anext(events) for _ in range(3)]
        assert [e["event"] for e in seen] == ["log", "log", "state"]
        assert '"cost": "$0.1200"' in seen[2]["data"] and '"step": "implement"' in seen[2]["data"]
        await log.tool_use(one.id, "implement", "Write b.txt", 0.17)
        more = [await anext(events) for _ in range(2)]
        assert [e["event"] for e in more] == ["log", "state"] and '"cost": "$0.1700"' in more[1]["data"]
        await events.aclose()
    finally:
        await store.close()


@pytest.mark.parametrize(("headers", "allowed"), [
    ({"sec-fetch-site": "same-origin", "origin": "null"}, True),  # Chrome under some referrer policies
    ({"sec-fetch-site": "same-origin", "origin": "http://awo.test"}, True),
    ({"sec-fetch-site": "none"}, True),
    ({"sec-fetch-site": "same-site", "origin": "http://other.awo.test"}, False),
    ({"sec-fetch-site": "cross-site", "origin": "http://awo.test"}, False),  # the header browsers set wins
    ({"origin": "http://awo.test"}, True), ({"origin": "null"}, False), ({"origin": "http://evil.example"}, False),
    ({}, True),  # a script: the CSRF token alone decides
])
def test_where_a_form_comes_from_is_judged_by_what_no_page_can_set(headers: dict[str, str], allowed: bool) -> None:
    from bot.web.session import same_origin

    assert same_origin(headers, "awo.test") is allowed


async def test_a_pulse_wakes_its_waiters_at_once_and_counts_what_nobody_waited_for() -> None:
    from bot.pulse import Pulse

    pulse = Pulse()
    pulse.fire()  # nobody waits: only the generation moves
    assert pulse.generation == 1
    waiters = [asyncio.ensure_future(pulse.wait(5)) for _ in range(3)]
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    pulse.fire()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert asyncio.get_running_loop().time() - started < 0.5 and pulse.generation == 2
    assert await pulse.wait(0.05) is False



async def test_streams_share_a_read_while_it_is_under_way_and_never_keep_it() -> None:
    """50 browsers woken by one NOTIFY ask the store once; a read asked after that one ended is a new read."""
    from bot.web.dashboard.live import InFlight

    calls: list[int] = []
    gate = asyncio.Event()

    async def read(n: int) -> int:
        calls.append(n)
        await gate.wait()
        return n * 10

    shared = InFlight()
    together = [asyncio.ensure_future(shared.read(read, 1)) for _ in range(50)]
    other = asyncio.ensure_future(shared.read(read, 2))
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*together) == [10] * 50 and await other == 20
    assert sorted(calls) == [1, 2]
    assert await shared.read(read, 1) == 10 and sorted(calls) == [1, 1, 2]


def test_a_long_logs_page_says_what_it_does_now_from_past_its_first_thousand_entries(
    anonymous: TestClient, runtime: Runtime,
) -> None:
    run(runtime, one := order(status=Status.RUNNING))
    log = WorkLog(runtime.store)

    async def write() -> None:
        await log.step_started(one.id, "plan", 1)
        for n in range(1000):
            await log.tool_use(one.id, "plan", f"Read file-{n}.txt", 0.001 * n)
        await log.step_started(one.id, "implement", 1)
        await log.tool_use(one.id, "implement", "Write last.txt", 2.5)
    anonymous.portal.call(write)  # type: ignore[union-attr]
    log_in(anonymous)
    page = anonymous.get(f"/work-orders/{one.id}", headers=HTML).text
    assert re.search(r'id="wo-step">implement<', page) and "Write last.txt</span>" in page
    assert '<span id="wo-cost">$2.5000</span>' in page and page.count("<li data-kind=") == 1000
