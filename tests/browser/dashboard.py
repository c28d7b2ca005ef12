"""What a test does on the dashboard as a user would: log in, wait for the live stream, look at rows, keep a picture.

Selectors are the dashboard's DOM contract (ids and data attributes), never its wording or layout.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page

from tests.e2e.harness import API_TOKEN, ROOT

SCREENSHOTS = ROOT / "reports/screenshots"
LIVE_SECONDS = 10


def log_in(page: Page, next_path: str = "/", token: str = API_TOKEN) -> None:
    """Open the login page for `next_path` and submit the token (the form's own fields, CSRF token included)."""
    page.goto(f"/login?next={quote(next_path, safe='')}")
    page.fill("form#login input#token", token)
    with page.expect_navigation():
        page.click("form#login [type=submit]")


def wait_live(page: Page, state: str = "on", seconds: float = LIVE_SECONDS) -> None:
    """Until the page's live connection (Server-Sent Events) is in `state`: "on", or "ended" after the last entry."""
    page.wait_for_selector(f"body[data-live='{state}']", state="attached", timeout=seconds * 1000)


def mark(page: Page) -> None:
    """Leave a mark in the page's JavaScript state: a reload or navigation would wipe it (see `unreloaded`)."""
    page.evaluate("() => { window.__awoMark = 'still here'; }")


def unreloaded(page: Page) -> bool:
    return page.evaluate("() => window.__awoMark === 'still here'") is True


def row_ids(page: Page) -> list[str]:
    ids = page.eval_on_selector_all("table#work-orders tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)")
    return [str(i) for i in ids]


def text(page: Page, selector: str) -> str:
    return page.inner_text(selector).strip()


def screenshot(page: Page, name: str) -> Path:
    """A full-page picture kept as a test artifact (reports/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
