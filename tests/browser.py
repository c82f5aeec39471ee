"""Headless Chromium for the browser tests (Debian's package; Playwright drives it).

Pages run under their real Content-Security-Policy, which forbids eval: Playwright's
``wait_for_function`` evaluates its predicate with eval inside the page, so waits here
poll ``page.evaluate`` (a DevTools call the policy does not govern) instead.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def wait_until(page: Any, expression: str, timeout_s: float = 15.0) -> None:
    """Wait until the JavaScript ``expression`` is truthy in the page."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error as exc:  # a navigation replaced the page under us: ask the new one
            if "context was destroyed" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.02)


@pytest.fixture
def browser_page():  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (./dev.sh test installs Debian's chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # test itself are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        yield page
        browser.close()
