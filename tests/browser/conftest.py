"""Browser fixtures: Debian's Chromium driven by Playwright against the running stack.

Every page a test opens is watched: a JavaScript error, a Content-Security-Policy violation or
a dialog (``alert``) fails the test at teardown, whatever the test itself checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.procs import ROOT, WebServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "pw-for-tests-1234"  # what tests.conftest.make_user sets
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
# Everything crosses the real pipeline (Kafka, relay, Redis) on a 2-core machine that may be
# busy: waits are generous, and a passing wait returns as soon as the page is right.
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)
# Console noise that is not a fault of the page: images on hosts this machine cannot resolve,
# and a socket's reconnect attempts while a test has its server stopped.
HARMLESS = re.compile(r"net::ERR_NAME_NOT_RESOLVED|WebSocket .* net::ERR_CONNECTION_REFUSED")


@dataclass
class Watched:
    """What went wrong in the pages of one test."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def console(message):
            if message.type == "error" and not HARMLESS.search(message.text):
                self.errors.append(f"console: {message.text} ({message.location['url']})")

        def dialog(d):
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("console", console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", dialog)
        return page


@dataclass
class Browsers:
    """Opens pages in separate browser contexts (separate cookies: separate members)."""

    browser: Browser
    base: str
    watched: Watched

    def page(self, user=None, *, base: str | None = None, viewport=DESKTOP) -> Page:
        context = self.browser.new_context(
            base_url=base or self.base, viewport=viewport, locale="ko-KR"
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = self.watched.watch(context.new_page())
        if user is not None:
            login(page, user.username)
        return page


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the real login page, as a member would."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))
    assert page.locator(".site-account__me").count() == 1, "login failed"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def start_web(live, name: str, **env) -> WebServer:
    """Another web server on the test database (its own port), for tests that stop one."""
    # The variable set below for this process must not leak into the server's checks.
    return live.start_web(name, DJANGO_ALLOW_ASYNC_UNSAFE="", **env)


@pytest.fixture
def browsers(live, monkeypatch) -> Iterator[Browsers]:
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. "
            "Run `python3 ops/services.py start browser` (make test does) to install it."
        )
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django refuses
    # ORM calls while a loop runs (SynchronousOnlyOperation). The tests create and inspect data
    # between page actions, one thing at a time, so the check has nothing to protect here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    watched = Watched()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Browsers(browser, live.web.http, watched)
        finally:
            browser.close()
    assert watched.dialogs == [], f"a page opened dialogs: {watched.dialogs}"
    assert watched.errors == [], "errors in the browser:\n" + "\n".join(watched.errors)
