"""Replays, floods, old triggers, the bot's own comments and permission: each attack replayed on the app.

The app runs in-process on the fakes of bot/testing.py (or, where the GitHub adapter itself is under test,
on the real githubkit client against the fake GitHub REST API on loopback); deliveries are real
@octokit/webhooks-examples payloads, signed and POSTed like GitHub does.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.admission import Roles
from bot.errors import Conflict
from bot.models import Delivery, Repository, Status, WorkOrder
from bot.runtime import Runtime, build_runtime
from bot.store.sqlite import Q as SQLITE_SQL
from bot.store.sqlite import SqliteStore
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.e2e.harness import wait_until
from tests.payloads import example
from tests.support.fake_github import FakeGitHub as FakeGitHubServer
from tests.support.fake_github import FakeGitHubClient
from tests.unit.test_webhooks import post

REPO = "Codertocat/Hello-World"
WRITERS = ("Codertocat", "alice", "bob", "carol", "dave")



def app(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers=AUTH) as client:
        response = client.post("/api/agent-work-orders/repositories",
                               json={"repository_url": f"https://github.com/{REPO}", "verify": False})
        assert response.status_code == 201, response.text
        yield client


@pytest.fixture
def writers(github: FakeGitHub) -> FakeGitHub:
    github.permissions.update(dict.fromkeys(WRITERS, "write"))
    return github


@pytest.fixture
def bot(tmp_path: Path, writers: FakeGitHub) -> Iterator[TestClient]:
    """The app with default limits and no worker: admitted work orders stay queued."""
    yield from app(build_runtime(make_settings(tmp_path), github=writers))


def settle(client: TestClient) -> None:
    """Wait until intake has processed every recorded delivery."""
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    wait_until(lambda: client.portal.call(store.unprocessed_deliveries) == [])  # type: ignore[union-attr]


def work_orders(client: TestClient) -> list[WorkOrder]:
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    return client.portal.call(store.list_work_orders, None, 1000)  # type: ignore[union-attr,no-any-return]


def comment(number: int, login: str = "Codertocat", body: str = "@claude fix the typo", **edits: Any) -> dict:
    return example("issue_comment", "created", issue__number=number, comment__body=body,
                   comment__user__login=login, sender__login=login, **edits)


def refusals(github: FakeGitHub) -> list[tuple[int, str]]:
    return [(issue, body) for _, issue, body in github.comments.values() if "was not queued" in body]


# replay


def test_the_same_signed_body_under_four_delivery_ids_becomes_one_work_order(
    bot: TestClient, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    payload = comment(1, comment__id=2345678901)
    for delivery in ("d-1", "d-2", "d-3", "d-4"):
        assert post(bot, payload, event="issue_comment", delivery=delivery).status_code == 202
    settle(bot)
    [work_order] = work_orders(bot)
    assert work_order.trigger_key == "codertocat/hello-world:comment:2345678901"
    assert len(writers.comments) == 1 and len(writers.reactions) == 1
    assert caplog.text.count("duplicate: a work order for this delivery or trigger exists") == 3


def test_a_relabelled_issue_is_a_new_trigger_but_a_replayed_label_event_is_not(
    bot: TestClient, writers: FakeGitHub
) -> None:
    first = example("issues", "labeled", label__name="claude", issue__number=2)
    later = example("issues", "labeled", label__name="claude", issue__number=2,
                    issue__updated_at=(datetime.now(UTC) + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for delivery, payload in (("l-1", first), ("l-2", first), ("l-3", later), ("l-4", later)):
        post(bot, payload, event="issues", delivery=delivery)
    settle(bot)
    assert len(work_orders(bot)) == 2


# age


def test_an_old_comment_replayed_today_is_refused(bot: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    post(bot, comment(3, comment__created_at=old), event="issue_comment", delivery="old")
    post(bot, example("issues", "labeled", label__name="claude", issue__number=4, issue__updated_at=old),
         event="issues", delivery="old-label")
    settle(bot)
    assert work_orders(bot) == []
    assert caplog.text.count("triggers older than 600 s are refused") == 2


def test_the_age_window_is_a_setting(tmp_path: Path, writers: FakeGitHub) -> None:
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    runtime = build_runtime(make_settings(tmp_path, trigger_max_age_seconds=7200), github=writers)
    for client in app(runtime):
        post(client, comment(3, comment__created_at=old), event="issue_comment", delivery="old")
        settle(client)
        assert len(work_orders(client)) == 1


# floods


def test_two_hundred_comments_on_one_issue_queue_one_running_and_two_waiting(
    bot: TestClient, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    store = bot.app.state.runtime.store  # type: ignore[attr-defined]
    post(bot, comment(5, comment__id=1), event="issue_comment", delivery="c-1")
    settle(bot)
    running = bot.portal.call(store.claim, "w1", 600)  # type: ignore[union-attr]
    assert running is not None
    for n in range(2, 201):
        post(bot, comment(5, comment__id=n, body=f"@claude task {n}"), event="issue_comment", delivery=f"c-{n}")
    settle(bot)
    statuses = sorted(w.status for w in work_orders(bot))
    assert statuses == [Status.PENDING, Status.PENDING, Status.RUNNING]
    assert caplog.text.count("#5 already has 3 work orders running or waiting") == 197
    [(issue, said)] = refusals(writers)
    assert issue == 5 and "@Codertocat" in said and "at most 1 running and 2 waiting" in said


def test_one_person_starts_at_most_ten_work_orders_an_hour(
    bot: TestClient, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    for n in range(1, 13):
        post(bot, comment(n, comment__id=n), event="issue_comment", delivery=f"a-{n}")
    settle(bot)
    assert len(work_orders(bot)) == 10
    assert caplog.text.count("Codertocat started 10 work orders in the last hour (the limit is 10)") == 2
    assert sorted(issue for issue, _ in refusals(writers)) == [11, 12]  # once per issue


def test_one_repository_starts_at_most_thirty_work_orders_an_hour(
    tmp_path: Path, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    runtime = build_runtime(make_settings(tmp_path, rate_limit_per_actor=100), github=writers)
    for client in app(runtime):
        for n in range(1, 33):
            post(client, comment(n, login=WRITERS[n % 5], comment__id=n), event="issue_comment", delivery=f"r-{n}")
        settle(client)
        assert len(work_orders(client)) == 30
    assert caplog.text.count(f"{REPO} started 30 work orders in the last hour (the limit is 30)") == 2


def test_the_global_pending_cap_refuses_more_work(
    tmp_path: Path, writers: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    runtime = build_runtime(make_settings(tmp_path, max_pending=3), github=writers)
    for client in app(runtime):
        for n in range(1, 6):
            post(client, comment(n, login=WRITERS[n - 1], comment__id=n), event="issue_comment", delivery=f"g-{n}")
        settle(client)
        assert len(work_orders(client)) == 3
    assert caplog.text.count("3 work orders are waiting already (the limit is 3)") == 2


# the bot's own comments


def test_a_comment_carrying_the_bot_marker_is_ignored_even_from_a_writer(bot: TestClient, writers: FakeGitHub) -> None:
    body = "<!-- agent-work-order:wo-1234abcd -->\n### ⏳ Queued\n\nRequested by @claude. Waiting for a worker…"
    post(bot, comment(6, body=body), event="issue_comment", delivery="m-1")
    settle(bot)
    assert work_orders(bot) == [] and writers.comments == {}


def test_the_bots_own_login_never_triggers_even_as_a_user(bot: TestClient, writers: FakeGitHub) -> None:
    writers.permissions["awo-bot"] = "admin"  # a PAT-driven bot is a User with write access
    post(bot, comment(7, login="awo-bot", body="Requested by @claude. Waiting for a worker…",
                      sender__type="User"), event="issue_comment", delivery="s-1")
    settle(bot)
    assert work_orders(bot) == [] and writers.comments == {}


# permission, through the real GitHub adapter against the fake GitHub REST API on loopback


@pytest.fixture
def rest_api() -> Iterator[FakeGitHubServer]:
    seed = {"repos": {REPO: {"default_branch": "master", "clone_url": "file:///nowhere.git"}},
            "permissions": {REPO: {"Codertocat": "write"}}}
    with FakeGitHubServer(seed, bot_login="awo-bot") as server:
        yield server


@pytest.fixture
def fake(rest_api: FakeGitHubServer) -> Iterator[FakeGitHubClient]:
    """What the fake GitHub recorded, and its faults."""
    with rest_api.client() as client:
        yield client


def on_rest_api(tmp_path: Path, server: FakeGitHubServer) -> Iterator[TestClient]:
    return app(build_runtime(make_settings(tmp_path, github_api_url=server.url)))


def test_a_404_from_the_permission_lookup_is_no_permission(
    tmp_path: Path, rest_api: FakeGitHubServer, fake: FakeGitHubClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    fake.fault("GET", r"/collaborators/Codertocat/permission$", status=404, times=None)
    for client in on_rest_api(tmp_path, rest_api):
        post(client, comment(8), event="issue_comment", delivery="p-1")
        settle(client)
        assert work_orders(client) == []
    assert "refused: Codertocat has 'none' permission" in caplog.text
    assert fake.calls("POST") == []  # no reaction, no comment


def test_a_permission_answer_without_a_role_is_no_permission(
    tmp_path: Path, fake: FakeGitHubClient, rest_api: FakeGitHubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    fake.fault("GET", r"/collaborators/Codertocat/permission$", status=200, times=None, body={"user": None})
    for client in on_rest_api(tmp_path, rest_api):
        post(client, comment(8), event="issue_comment", delivery="p-2")
        settle(client)
        assert work_orders(client) == []
    assert "refused: Codertocat has 'none' permission" in caplog.text
    assert fake.calls("POST") == []


def test_a_pat_driven_bot_ignores_its_own_requested_by_comment(
    tmp_path: Path, rest_api: FakeGitHubServer, fake: FakeGitHubClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.intake")
    fake.seed({"permissions": {REPO: {"awo-bot": "admin"}}})
    for client in on_rest_api(tmp_path, rest_api):
        for n in (1, 2):
            post(client, comment(9, login="awo-bot", body="Requested by @claude. Waiting for a worker…",
                                 comment__id=n, sender__type="User"), event="issue_comment", delivery=f"own-{n}")
        settle(client)
        assert work_orders(client) == []
    assert caplog.text.count("refused: awo-bot is the bot itself") == 2
    assert len(fake.calls("GET", r"^/user$")) == 1  # asked once, then remembered


# permission again at claim time


async def test_a_writer_demoted_before_the_claim_gets_nothing_run(tmp_path: Path, writers: FakeGitHub) -> None:
    agent = FakeAgent(files={"hello.txt": "hello\n"})
    settings = make_settings(tmp_path)
    runtime = build_runtime(settings, github=writers, agent=agent, workers=1)
    assert runtime.worker is not None
    await runtime.store.open()
    await runtime.store.add_repository(Repository(repository_url=f"https://github.com/{REPO}"))
    delivery = Delivery(delivery_id="demoted", event="issue_comment", action="created", repo_full_name=REPO,
                        payload=comment(10))
    await runtime.store.record_delivery(delivery)
    assert (await runtime.intake.process(delivery)).startswith("queued wo-")

    writers.permissions["Codertocat"] = "read"  # demoted while the work order waited
    claimed = await runtime.store.claim(runtime.worker.worker_id, 60)
    assert claimed is not None
    done = await runtime.worker.work(claimed)
    steps = await runtime.store.list_steps(done.id)
    await runtime.store.close()

    assert done.status is Status.FAILED
    assert "Codertocat has 'read' permission" in (done.error_message or "")
    assert agent.requests == [] and steps == []
    assert not (settings.data_dir / "mirrors").exists()
    body = writers.comments[done.progress_comment_id or 0][2]
    assert "❌ Failed" in body and "checked again when a worker took the work order" in body


async def test_an_sqlite_database_from_before_trigger_keys_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the tables as the previous release created them
        conn.executescript(SQLITE_SQL["schema"].replace("    trigger_key TEXT,\n", ""))
        conn.execute("INSERT INTO archon_agent_work_orders (agent_work_order_id, repository_url, status, created_at, "
                     "updated_at) VALUES ('wo-old', 'u', 'completed', '2025-01-01T00:00:00', '2025-01-01T00:00:00')")
    conn.close()
    store = SqliteStore(path)
    await store.open()
    await store.create_work_order(WorkOrder(repository_url="u", trigger_key="k"))
    with pytest.raises(Conflict):
        await store.create_work_order(WorkOrder(repository_url="u", trigger_key="k"))
    orders = await store.list_work_orders()
    await store.close()
    assert sorted(str(w.trigger_key) for w in orders) == ["None", "k"]


class CountingGitHub(FakeGitHub):
    asked: int = 0

    async def permission(self, full_name: str, login: str) -> str:
        self.asked += 1
        return await super().permission(full_name, login)


async def test_a_role_is_asked_once_per_window_and_again_after_it() -> None:
    """A reader's hundred `@claude`s cost one permission call; a promotion counts once the window is over."""
    github = CountingGitHub(permissions={"reader": "read"})
    now = [0.0]
    roles = Roles(ttl=30, clock=lambda: now[0])
    assert [await roles.of(github, "Octo/Repo", "reader") for _ in range(100)] == ["read"] * 100
    assert await roles.of(github, "octo/repo", "READER") == "read" and github.asked == 1  # GitHub's case rules
    github.permissions["reader"] = "write"
    now[0] = 30.0
    assert await roles.of(github, "Octo/Repo", "reader") == "write" and github.asked == 2


async def test_remembered_roles_stay_bounded() -> None:
    github = CountingGitHub()
    roles = Roles(ttl=30, size=10, clock=lambda: 0.0)
    for n in range(25):
        await roles.of(github, "Octo/Repo", f"user{n}")
    assert len(roles._known) <= 10
