"""Every dashboard page passes axe-core (no serious or critical violations), and the repositories page's forms work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page

from tests.browser import axe
from tests.browser.dashboard import log_in, row_ids, wait_live
from tests.e2e.harness import REPO, Stack, script_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def finished(stack: Stack) -> Iterator[dict[str, Any]]:
    """One completed work order with a PR, so the list, detail and costs pages have something to show."""
    issue = stack.new_issue()
    write = {"tool_use": {"name": "Write", "input": {"file_path": "a11y.txt", "content": "checked\n"}}}
    stack.script(script_for(issue, [{"text": "Plan: write a11y.txt"}], [write, {"text": "Wrote a11y.txt."}]))
    assert stack.deliver("issues", stack.issue_payload(issue, "Accessible")).status_code == 202
    order = stack.finished(issue)
    assert order["status"] == "completed", order
    yield order


def assert_accessible(page: Page) -> None:
    found = axe.serious(page)
    assert found == [], f"axe-core found {len(found)} serious or critical violations on {page.url}:\n" + "\n".join(
        found)


def test_the_login_page_is_accessible(page: Page) -> None:
    page.goto("/login?next=/")
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/", "/work-orders/{id}", "/repositories", "/costs"])
def test_the_page_is_accessible(page: Page, finished: dict[str, Any], path: str) -> None:
    log_in(page, path.format(id=finished["agent_work_order_id"]))
    if path in ("/", "/work-orders/{id}"):
        wait_live(page, "on" if path == "/" else "ended")
    assert_accessible(page)


def filter_by(page: Page, **fields: str) -> dict[str, list[str]]:
    """Fill the list's filter form as a user does and send it; the query the page was reloaded with."""
    for name, value in fields.items():
        if name == "status":
            page.select_option("form#filters select[name=status]", value)
        else:
            page.fill(f"form#filters input[name={name}]", value)
    with page.expect_navigation():
        page.click("form#filters [type=submit]")
    return parse_qs(urlsplit(page.url).query)


def test_the_filters_narrow_the_list(page: Page, finished: dict[str, Any]) -> None:
    work_order_id, day = finished["agent_work_order_id"], finished["created_at"][:10]
    log_in(page, "/")
    assert page.get_attribute("form#filters input[name=since]", "type") == "date"
    assert page.get_attribute("form#filters input[name=until]", "type") == "date"
    assert work_order_id in row_ids(page)

    assert filter_by(page, status="failed")["status"] == ["failed"]
    assert work_order_id not in row_ids(page)
    query = filter_by(page, status="completed", repository=REPO, issue=str(finished["issue_number"]), since=day,
                      until=day)
    assert query["repository"] == [REPO] and query["since"] == [day]
    assert row_ids(page) == [work_order_id]


def test_the_costs_page_shows_the_work_orders_cost(page: Page, finished: dict[str, Any]) -> None:
    log_in(page, "/costs")
    table = page.inner_text("table#costs")
    assert REPO in table and "$" in table


def test_a_repository_is_added_and_removed_from_its_page(page: Page, stack: Stack) -> None:
    url = "https://github.com/Codertocat/Added-In-The-Browser"
    log_in(page, "/repositories")
    before = page.locator("table#repositories tbody tr[data-id]").count()
    page.fill("form#add-repository input[name=repository_url]", url)
    page.uncheck("form#add-repository input[name=verify]")
    with page.expect_navigation():
        page.click("form#add-repository [type=submit], form#add-repository button")
    row = page.locator("table#repositories tbody tr[data-id]", has_text="Codertocat/Added-In-The-Browser")
    assert row.count() == 1 and page.locator("table#repositories tbody tr[data-id]").count() == before + 1
    assert "Added-In-The-Browser" in str(stack.http.get("/api/agent-work-orders/repositories").json())

    with page.expect_navigation():
        row.locator("form.remove button").click()
    assert page.locator("table#repositories tbody tr[data-id]", has_text="Added-In-The-Browser").count() == 0
    assert "Added-In-The-Browser" not in str(stack.http.get("/api/agent-work-orders/repositories").json())
