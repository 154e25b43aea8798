"""Demo flow in Chromium: a deal reaches "Invoice" → payment link robot → pay page → Pay → deal in "Paid"."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.events import Actor
from kanban.models import Deal
from kanban.services.deals import create_deal, move_deal
from kanban.services.pipelines import create_pipeline
from robots import config as robot_config
from tests.browser.conftest import browser, browser_login, live_runtime, live_server  # noqa: F401
from tests.conftest import make_user
from triggers import config as trigger_config

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_runtime: Any) -> dict[str, Any]:  # noqa: F811
    """Sales pipeline with a payment-link robot on Invoice, a payment trigger and a comment robot on Paid."""
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Proposal"}, {"name": "Invoice"},
                                                {"name": "Paid", "kind": "won"}])
        ids = {st.name: st.id for st in pipeline.stages}
        robot_config.create_robot(s, ids["Invoice"], {"kind": "create_payment_link", "key": "link",
                                                      "settings": {"description": "Order {{ deal.title }}"}})
        robot_config.create_robot(s, ids["Paid"], {"kind": "add_comment", "key": "thanks",
                                                   "settings": {"text": "Payment arrived — ship it!"}})
        trigger_config.create_trigger(s, ids["Paid"], {"kind": "payment_received", "name": "Customer paid"})
        deal = create_deal(s, title="Acme order", pipeline_id=pipeline.id, stage_id=ids["Proposal"],
                           amount=123_45, actor=Actor.user(admin.id))
    return {"deal": deal.id, "stages": ids, "admin": admin}


def test_pay_page_moves_deal_to_paid_live(browser: Any, live_server: str, live_runtime: Any, demo: Any):  # noqa: F811
    base, deal_id = live_server, demo["deal"]
    page = browser.new_page()
    browser_login(page, base, "admin@example.com")
    page.goto(f"{base}/deals/{deal_id}")
    # Subscribed before the move: the robot's result cannot slip past the page.
    page.wait_for_selector("body[data-live=on]", state="attached")
    with live_runtime.sessions() as s, s.begin():
        move_deal(s, deal_id, demo["stages"]["Invoice"], actor=Actor.user(demo["admin"].id))
    link = page.locator(".invoices-panel a.pay-link")
    link.wait_for(timeout=15_000)  # the robot's invoice shows up on the open deal page
    payer = browser.new_page()
    payer.goto(base + link.get_attribute("href"))
    assert "$123.45" in payer.inner_text("main") and "Order Acme order" in payer.inner_text("main")
    payer.click("button[type=submit]")
    payer.wait_for_url("**/pay/*?submitted=1")
    page.locator("text=Payment arrived — ship it!").wait_for(timeout=15_000)
    assert page.locator(".invoices-panel .status-paid").count() == 1
    assert "Customer paid" in page.inner_text("main")
    with live_runtime.sessions() as s:
        assert s.get(Deal, deal_id).stage_id == demo["stages"]["Paid"]
    payer.reload()
    assert "Paid" in payer.inner_text("main")
