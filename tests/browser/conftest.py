"""One real server per module (the e2e Stack: real CLI, scripted model, fake GitHub), Debian's Chromium, and a page
that fails its test on any console error or uncaught exception.

Plain sync tests: Playwright's sync API must not run inside pytest-asyncio's event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, BrowserType, Dialog, Page, Playwright, sync_playwright

from tests.browser.chromium import launch_args
from tests.browser.console import Console
from tests.e2e.harness import CLAUDE, Stack

STEP_MS = 10_000  # one click or lookup; waits for a work order's progress give their own, longer, limits


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright's launch options, replaced: the system Chromium, headless, with the closed-network flags."""
    return launch_args()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not pytest-playwright's per session: while the sync API is started it marks its event loop as
    running in this thread, so other modules' async tests (pytest-asyncio) could not run theirs."""
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright) -> BrowserType:
    return playwright.chromium


@pytest.fixture(scope="module")
def browser(browser_type: BrowserType, browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not CLAUDE.exists():
        raise RuntimeError(f"{CLAUDE} is missing: run `make install` (npm ci) first")
    # the scripted model is slowed to watch work orders live: a step takes seconds, not the e2e suite's 8 s limit
    running = Stack(Path(tmp_path_factory.mktemp("browser")), AWO_STEP_TIMEOUT_SECONDS="60")
    running.configure_repo()
    yield running
    running.stop()


@pytest.fixture
def browser_context_args(stack: Stack) -> dict[str, Any]:
    """Every page of a test talks to this module's server: `page.goto("/")` is its list."""
    return {"base_url": stack.url, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Iterator[Page]:
    """A fresh page (own context, so no cookie crosses tests) watched for errors; confirm dialogs are accepted."""
    context.set_default_timeout(STEP_MS)
    opened = context.new_page()
    console.watch(opened)
    opened.on("dialog", _accept)
    yield opened
    assert console.unexpected() == [], "the page reported errors:\n" + "\n".join(console.unexpected())


def _accept(dialog: Dialog) -> None:
    dialog.accept()
