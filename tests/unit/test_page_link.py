"""AWO_PUBLIC_URL: the progress comment links {AWO_PUBLIC_URL}/work-orders/{id}, never a link when unset; that
address is the work order's dashboard page (its JSON to a script with the API token)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.errors import ConfigError
from bot.models import Status, WorkOrder
from bot.report import page_of, render_comment
from bot.runtime import build_runtime
from bot.settings import load_settings
from bot.testing import FakeAgent, FakeGitHub
from bot.web.app import create_app
from tests.conftest import AUTH, make_settings
from tests.unit.test_intake import AUTH as INTAKE_AUTH
from tests.unit.test_intake import configure, deliver, good_issue, intake_settings, outcome

PUBLIC = "https://awo.example.com/bot"
ORDER = WorkOrder(agent_work_order_id="wo-1234abcd", repository_url="https://github.com/o/r", repo_full_name="o/r",
                  issue_number=3, trigger_actor="octocat", status=Status.RUNNING)


def test_the_comment_links_the_work_orders_page_only_with_a_public_url() -> None:
    linked = render_comment(ORDER, [], page=page_of(PUBLIC, ORDER.id))
    assert "[Follow this work order on the bot](https://awo.example.com/bot/work-orders/wo-1234abcd)" in linked
    assert linked.index("work-orders/") < linked.index("Working") + 200  # under the headline
    plain = render_comment(ORDER, [], page=page_of(None, ORDER.id))
    assert "work-orders" not in plain and "Follow this work order" not in plain
    assert page_of(PUBLIC + "/", "wo-a/../b") == f"{PUBLIC}/work-orders/wo-a%2F..%2Fb"


@pytest.mark.parametrize("value", ["https://awo.example.com", "http://10.0.0.5:8053/", "https://h.example/a/b/"])
def test_a_public_url_is_an_http_url_kept_without_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AWO_PUBLIC_URL", value)
    assert load_settings().public_url == value.rstrip("/")


@pytest.mark.parametrize("value", [
    "javascript:alert(1)", "ftp://awo.example.com", "awo.example.com", "https://", "https://user:pw@awo.example.com",
    "https://awo.example.com/?x=1", "https://awo.example.com/#top", "https://awo.example.com/a)[x](https://evil",
    "https://awo.example.com/a b", 'https://awo.example.com/"onmouseover',
])
def test_a_public_url_that_is_not_a_plain_http_url_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AWO_PUBLIC_URL", value)
    with pytest.raises(ConfigError, match="AWO_PUBLIC_URL"):
        load_settings()


@pytest.mark.parametrize("public_url", [PUBLIC, None])
def test_the_queued_comment_on_github_links_the_page_when_set(
    tmp_path: Path, github: FakeGitHub, agent: FakeAgent, public_url: str | None
) -> None:
    runtime = build_runtime(intake_settings(tmp_path, public_url=public_url), github=github, agent=agent)
    with TestClient(create_app(runtime), headers=INTAKE_AUTH) as client:
        configure(client)
        assert deliver(client, good_issue(), "link-1") == 202
        assert outcome(client, "link-1").startswith("queued")
        [(_, issue, body)] = github.comments.values()
        [order] = client.get("/api/agent-work-orders/").json()
    assert issue == 7 and order["agent_work_order_id"] in body
    link = f"{PUBLIC}/work-orders/{order['agent_work_order_id']}"
    assert (f"]({link})" in body) is (public_url is not None)
    assert "/work-orders/" not in body or public_url is not None


def test_the_linked_address_answers_the_work_order_behind_the_token(tmp_path: Path, github: FakeGitHub) -> None:
    runtime = build_runtime(make_settings(tmp_path, public_url=PUBLIC), github=github, agent=FakeAgent())
    with TestClient(create_app(runtime)) as client:
        client.portal.call(runtime.store.create_work_order, ORDER)  # type: ignore[union-attr]
        page = client.get(f"/work-orders/{ORDER.id}", headers=AUTH)
        assert page.status_code == 200 and page.json()["agent_work_order_id"] == ORDER.id
        assert page.json()["current_phase"] == "planning"
        refused = client.get(f"/work-orders/{ORDER.id}", follow_redirects=False)
        assert refused.status_code == 303 and "user_request" not in refused.text
        assert refused.headers["location"] == f"/login?next=%2Fwork-orders%2F{ORDER.id}"
        assert client.get("/work-orders/wo-unknown", headers=AUTH).status_code == 404
