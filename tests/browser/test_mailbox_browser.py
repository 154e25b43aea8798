"""The My mailbox page in Chromium, on a laptop and a phone: reachable from the user menu, a refused connection
keeps what was typed (never the password) and says why, and nothing overflows the phone's width."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1440, 390])
def test_a_refused_connection_explains_itself(browser: Any, live_server: str, live_runtime: Any, width: int):
    make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        browser_login(page, live_server, "rep@example.com")
        if width < 720:
            page.click("label.menu-button")  # the phone menu folds the account links
        page.click("a[href='/me/mailbox']")
        page.wait_for_url(f"{live_server}/me/mailbox")
        page.fill("input[name=password]", "hunter2")
        page.fill("input[name=smtp_host]", "127.0.0.1")
        page.fill("input[name=smtp_port]", "2525")
        page.fill("input[name=imap_host]", "127.0.0.1")
        page.click("button.primary")
        # The live server keeps the default: mail servers on private addresses are refused before any login.
        alert = page.locator(".message-error")
        assert "private or reserved address" in alert.inner_text()
        assert page.input_value("input[name=smtp_port]") == "2525" and page.input_value("input[name=password]") == ""
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
