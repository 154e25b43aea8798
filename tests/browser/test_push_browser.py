"""Push subscription in real Chromium: permission, service worker registration, subscribe, server-side storage.

Headless Chromium cannot subscribe for real: PushManager.subscribe() is rejected with "Registration failed -
permission denied" even with the notifications permission granted (there is no push service). So the second
test replaces only that one browser call with a subscription made by the test's local push service; all
around it (permission request, /sw.js registration with its root scope, the VAPID key handed to subscribe(),
the CSRF-protected POST and the stored row) runs for real.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from kanban.channels import PushSubscription
from tests.browser.conftest import browser_login
from tests.conftest import make_user
from tests.fake_push import PushEndpoint

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, live_server: str, live_runtime: Any) -> Any:
    """A logged-in rep on the notification settings page, notifications permission granted."""
    make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=live_server)
    tab = context.new_page()
    browser_login(tab, live_server, "rep@example.com")
    yield tab
    context.close()


def _settle(page: Any) -> str:
    page.wait_for_function("() => !['idle', 'working'].includes(document.getElementById('push-status').dataset.state)")
    return str(page.get_attribute("#push-status", "data-state"))


def _subscriptions(runtime: Any) -> list[PushSubscription]:
    with runtime.sessions() as s:
        return list(s.scalars(select(PushSubscription)))


def test_the_button_registers_the_service_worker_and_asks_the_push_service(page, live_server, live_runtime):
    page.goto(f"{live_server}/me/notifications")
    page.click("#push-subscribe")
    state = _settle(page)
    scope = page.evaluate("async () => (await navigator.serviceWorker.getRegistration('/')).scope")
    assert scope == f"{live_server}/"  # /sw.js is served from the root: it controls the whole app
    if state == "subscribed":  # a Chromium build with a push service
        assert len(_subscriptions(live_runtime)) == 1
    else:  # headless: the one step this test cannot do for real; the server stored nothing
        assert state == "error" and "Could not subscribe" in page.inner_text("#push-status")
        assert _subscriptions(live_runtime) == []


def test_the_page_posts_the_subscription_and_the_server_keeps_it(page, live_server, live_runtime):
    vapid_key = live_runtime.extras["services"]["vapid"].public_key
    subscription = PushEndpoint(vapid_key).subscription("https://push.example/send/abc")
    # Only PushManager.subscribe is replaced; it records the VAPID key the page passed to it.
    page.add_init_script(f"""
        PushManager.prototype.subscribe = async function (options) {{
          const key = new Uint8Array(options.applicationServerKey);
          window.__subscribeKey = btoa(String.fromCharCode(...key)).replace(/\\+/g, '-').replace(/\\//g, '_')
            .replace(/=+$/, '');
          window.__userVisibleOnly = options.userVisibleOnly;
          const json = {json.dumps(subscription)};
          return {{ endpoint: json.endpoint, toJSON: () => json }};
        }};
    """)
    page.goto(f"{live_server}/me/notifications")
    page.click("#push-subscribe")
    assert _settle(page) == "subscribed", page.inner_text("#push-status")
    assert page.evaluate("window.__subscribeKey") == vapid_key
    assert page.evaluate("window.__userVisibleOnly") is True
    [row] = _subscriptions(live_runtime)
    assert (row.endpoint, row.p256dh, row.auth) == (subscription["endpoint"], subscription["keys"]["p256dh"],
                                                    subscription["keys"]["auth"])
    page.reload()
    assert page.locator("tr.push-subscription").count() == 1
