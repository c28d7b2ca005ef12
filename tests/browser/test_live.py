"""Watching work orders live in the browser, with the scripted model slowed down: a new work order shows in the list
within a second of its webhook, the detail page's timeline grows without a reload, and cancel works from the page."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.dashboard import log_in, mark, row_ids, screenshot, text, unreloaded, wait_live
from tests.e2e.harness import REPO, Stack, script_for, wait_until

pytestmark = pytest.mark.browser
TURN_SECONDS = 1.5  # each model answer waits this long: a step takes seconds, long enough to watch
ROW_SECONDS = 1.0  # the issue's promise: the list shows a new work order within a second of its webhook


def slow(turn: dict[str, Any], seconds: float = TURN_SECONDS) -> dict[str, Any]:
    return {**turn, "sleep": seconds}


def write(name: str) -> dict[str, Any]:
    return {"tool_use": {"name": "Write", "input": {"file_path": name, "content": f"{name}\n"}}}


PLAN = [slow({"text": "Plan: write one.txt, two.txt and three.txt."})]
IMPLEMENT = [slow(write("one.txt")), slow(write("two.txt")), slow(write("three.txt")),
             slow({"text": "Wrote one.txt, two.txt and three.txt."})]


def kinds(page: Page) -> list[str]:
    found = page.eval_on_selector_all("ol#timeline > li[data-kind]", "items => items.map(i => i.dataset.kind)")
    return [str(k) for k in found]


def dollars(shown: str) -> float:
    """The amount a page shows as "$0.0123"."""
    assert re.fullmatch(r"\$\d+(\.\d+)?", shown), shown
    return float(shown[1:])


def order_of(stack: Stack, issue: int) -> dict[str, Any]:
    [order] = wait_until(lambda: stack.work_orders(issue), timeout=10)
    return order


def test_a_new_work_order_shows_in_the_list_within_a_second_of_its_webhook(
        page: Page, stack: Stack, record_property: Any) -> None:
    log_in(page, "/")
    wait_live(page)
    mark(page)
    before = set(row_ids(page))
    issue = stack.new_issue()
    stack.script(script_for(issue, [{"text": "Plan: nothing."}], [{"text": "Nothing to change."}]))

    assert stack.deliver("issues", stack.issue_payload(issue, "Show me live")).status_code == 202
    answered = time.monotonic()
    page.wait_for_function("known => [...document.querySelectorAll('table#work-orders tbody tr[data-id]')]"
                           ".some(row => !known.includes(row.dataset.id))", arg=sorted(before), polling="raf",
                           timeout=5000)
    shown = time.monotonic() - answered
    record_property("list_row_seconds", round(shown, 3))

    order = order_of(stack, issue)
    work_order_id = order["agent_work_order_id"]
    assert set(row_ids(page)) - before == {work_order_id}
    assert shown < ROW_SECONDS, f"the row showed {shown:.2f} s after the webhook's answer"
    assert unreloaded(page)
    row = f"table#work-orders tbody tr[data-id='{work_order_id}']"
    assert text(page, f"{row} td[data-col=status]") in ("pending", "running", "completed")
    assert REPO in text(page, f"{row} td[data-col=repository]")
    assert page.is_visible(f"{row} a[href='/work-orders/{work_order_id}']")
    page.wait_for_function(f"() => document.querySelector(\"{row} td[data-col=status]\").textContent.trim()"
                           " === 'completed'", timeout=60_000)  # the row follows the work order to its end
    screenshot(page, "list")


def test_the_detail_timeline_grows_live_and_ends_completed_with_the_pr(page: Page, stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, PLAN, IMPLEMENT))
    log_in(page, "/")
    assert stack.deliver("issues", stack.issue_payload(issue, "Write two files slowly")).status_code == 202
    work_order_id = order_of(stack, issue)["agent_work_order_id"]

    page.goto(f"/work-orders/{work_order_id}")
    wait_live(page)
    mark(page)
    first = kinds(page)
    assert text(page, "#wo-status") in ("pending", "running")
    page.wait_for_function("() => document.querySelectorAll('ol#timeline > li[data-kind=tool_use]').length >= 1",
                           timeout=60_000)
    while_running = text(page, "#wo-status"), text(page, "#wo-step")
    cost_while_running = dollars(text(page, "#wo-cost"))
    page.wait_for_function("() => document.querySelector('#wo-status').textContent.trim() === 'completed'",
                           timeout=90_000)
    wait_live(page, "ended")
    last = kinds(page)

    assert unreloaded(page), "the page was reloaded or navigated"
    assert last.count("tool_use") == 3 > first.count("tool_use")
    assert last.count("step_started") == 6 > first.count("step_started")  # checkout ... pull-request
    assert while_running == ("running", "implement")
    assert last[-1] == "status" and "error" not in last
    order = stack.http.get(f"/api/agent-work-orders/{work_order_id}").json()
    assert order["status"] == "completed" and order["pr_url"]
    assert page.get_attribute("a#pr-link", "href") == order["pr_url"]
    assert page.get_attribute("a#issue-link", "href", timeout=1000) and str(issue) in str(
        page.get_attribute("a#issue-link", "href"))
    assert text(page, "#wo-branch") == order["git_branch_name"]
    assert 0 < cost_while_running < dollars(text(page, "#wo-cost"))  # the cost so far moved with the agent
    assert dollars(text(page, "#wo-cost")) == pytest.approx(order["total_cost_usd"], abs=0.0001)
    assert "Write one.txt" in text(page, "ol#timeline")
    # the finished steps' table, with each agent step's prompt, filled in as the steps ended: still no reload
    page.wait_for_function("() => document.querySelectorAll('table#steps tbody tr').length === 6", timeout=10_000)
    assert page.locator("table#steps details.prompt").count() >= 2 and unreloaded(page)
    assert text(page, "#wo-took").endswith(("s", "min")) and " turn" in text(page, "#wo-turns")
    screenshot(page, "detail")

    page.goto(f"/work-orders/{work_order_id}")  # the finished steps' table, with the prompts, as a new visit shows it
    assert page.locator("table#steps tbody tr").count() == 6
    assert page.locator("table#steps details.prompt").count() >= 2  # plan and implement got prompts
    assert kinds(page) == last  # the timeline built live is the one the store keeps


def test_cancel_from_the_page_shows_cancelled_live_and_the_api_agrees(page: Page, stack: Stack) -> None:
    issue = stack.new_issue()
    stack.script(script_for(issue, [slow({"text": "Plan: take a while."}, 4)],
                            [slow(write(f"slow-{n}.txt"), 4) for n in range(8)]))
    log_in(page, "/")
    assert stack.deliver("issues", stack.issue_payload(issue, "Take your time")).status_code == 202
    work_order_id = order_of(stack, issue)["agent_work_order_id"]
    page.goto(f"/work-orders/{work_order_id}")
    wait_live(page)
    page.wait_for_function("() => document.querySelector('#wo-status').textContent.trim() === 'running'",
                           timeout=30_000)
    assert not page.is_visible("button#retry")

    page.click("form#cancel-form button#cancel")
    page.wait_for_function("() => document.querySelector('#wo-status').textContent.trim() === 'cancelled'",
                           timeout=30_000)
    assert stack.http.get(f"/api/agent-work-orders/{work_order_id}").json()["status"] == "cancelled"
    page.wait_for_selector("form#retry-form button#retry", timeout=5000)
    assert not page.is_visible("button#cancel")


HOSTILE = "<img src=x onerror=\"window.__pwned=1\">"


def test_markup_from_the_issue_and_the_model_is_shown_as_text_live_and_never_runs(page: Page, stack: Stack) -> None:
    """The model's tool call (its output: anyone's issue can steer it) names a file `<img onerror=…>`; the issue's
    title carries the same. Both reach the page, live and rendered, as text: no element is made, nothing runs."""
    issue = stack.new_issue()
    stack.script(script_for(issue, [slow({"text": "Plan: one file."}, 1)],
                            [slow(write(f"{HOSTILE}.txt"), 1), slow({"text": "Done."}, 1)]))
    log_in(page, "/")
    assert stack.deliver("issues", stack.issue_payload(issue, f"Title {HOSTILE}")).status_code == 202
    work_order_id = order_of(stack, issue)["agent_work_order_id"]
    page.goto(f"/work-orders/{work_order_id}")
    wait_live(page)
    page.wait_for_function("() => [...document.querySelectorAll('ol#timeline > li[data-kind=tool_use]')]"
                           ".some(li => li.textContent.includes('onerror'))", timeout=60_000)
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert HOSTILE in text(page, "ol#timeline")
    page.goto("/")  # the list's rows, rendered by the server and put in by the live stream
    wait_live(page)
    assert page.locator("main img").count() == 0 and page.evaluate("() => window.__pwned") is None
