"""The dashboard's door: a login form that takes the API token and sets a strict session cookie; logout; no page
without it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.console import Console
from tests.browser.dashboard import log_in, text
from tests.e2e.harness import API_TOKEN, Stack

pytestmark = pytest.mark.browser
PAGES = ["/", "/repositories", "/costs", "/work-orders/wo-0123456789ab"]


def session_cookie(context: BrowserContext) -> dict[str, object] | None:
    return next((dict(c) for c in context.cookies() if c["name"] == "awo_session"), None)


def test_a_wrong_token_shows_the_error_and_no_cookie(page: Page, context: BrowserContext, console: Console,
                                                     stack: Stack) -> None:
    console.expect(f"status of 401 (Unauthorized) ({stack.url}/login)")  # the browser logs the answer itself
    page.goto("/login?next=/")
    page.fill("form#login input#token", "not-the-token")
    with page.expect_navigation() as answer:
        page.click("form#login [type=submit]")
    assert answer.value is not None and answer.value.status == 401
    assert page.is_visible(".error") and text(page, ".error")
    assert session_cookie(context) is None
    assert page.is_visible("form#login input#token")  # the user can try again at once


def test_the_right_token_lands_on_the_list_with_an_http_only_strict_cookie(page: Page, context: BrowserContext) -> None:
    page.goto("/")
    url = urlsplit(page.url)
    assert url.path == "/login" and parse_qs(url.query)["next"] == ["/"]
    assert page.get_attribute("input#token", "type") == "password"
    assert page.get_attribute("input#token", "name") == "token"
    page.fill("form#login input#token", API_TOKEN)
    with page.expect_navigation():
        page.click("form#login [type=submit]")
    assert urlsplit(page.url).path == "/"
    assert page.is_visible("table#work-orders")
    cookie = session_cookie(context)
    assert cookie is not None, context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie.includes('awo_session')") is False  # out of scripts' reach
    assert API_TOKEN not in str(cookie["value"])  # a stolen cookie is not the token itself
    for link in ('a[href="/"]', 'a[href="/repositories"]', 'a[href="/costs"]'):
        assert page.is_visible(f"nav {link}"), link


def test_login_goes_back_to_the_page_asked_for(page: Page) -> None:
    page.goto("/costs")
    assert urlsplit(page.url).path == "/login"
    page.fill("form#login input#token", API_TOKEN)
    with page.expect_navigation():
        page.click("form#login [type=submit]")
    assert urlsplit(page.url).path == "/costs" and page.is_visible("table#costs")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_login_never_sends_the_user_to_another_site(page: Page, stack: Stack, target: str) -> None:
    log_in(page, target)
    url = urlsplit(page.url)
    assert f"{url.scheme}://{url.netloc}" == stack.url, page.url


def test_logout_ends_the_session(page: Page, context: BrowserContext) -> None:
    log_in(page, "/repositories")
    assert session_cookie(context) is not None
    with page.expect_navigation():
        page.click("form#logout [type=submit], form#logout button")
    assert session_cookie(context) is None
    page.goto("/repositories")
    assert urlsplit(page.url).path == "/login"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_the_cookie_goes_to_the_login(page: Page, path: str) -> None:
    page.goto(path)
    url = urlsplit(page.url)
    assert url.path == "/login" and parse_qs(url.query)["next"] == [path]
    assert page.is_visible("form#login")
