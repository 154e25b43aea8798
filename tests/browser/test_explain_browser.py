"""Issue 12 in Chromium: the deal page's "Why?" tab explains a skipped robot and a trigger that lost; the board
previews a move while a card is dragged over a column (and nothing happens until it is dropped)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import Deal
from kanban.services.deals import create_deal, update_deal
from kanban.services.pipelines import create_pipeline
from robots.models import Robot, RobotRun
from tests.browser.conftest import browser_login
from tests.conftest import make_user
from triggers import config as trigger_config

pytestmark = pytest.mark.browser


@pytest.fixture
def sales(live_runtime: Any) -> dict[str, Any]:
    """An admin, a four-stage pipeline, robots on Qualified and Proposal, one deal in New."""
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}, {"name": "Proposal"},
                                                {"name": "Won", "kind": "won"}])
        new, qualified, proposal, _won = (st.id for st in pipeline.stages)
        s.add(Robot(stage_id=qualified, kind="add_comment", name="Big-deal welcome", key="welcome",
                    settings={"text": "Welcome"}, condition={"all": [{"field": "deal.amount", "op": ">",
                                                                       "value": 3000}]}))
        s.add(Robot(stage_id=proposal, kind="add_comment", name="Send the proposal", key="proposal",
                    settings={"text": "Proposal sent"}, delay={"type": "after", "seconds": 86400}))
        deal = create_deal(s, title="Acme renewal", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                           amount=500_00, responsible_id=admin.id).id
    return {"admin": admin, "stages": {"New": new, "Qualified": qualified, "Proposal": proposal}, "deal": deal}


def _wait(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_why_tab_explains_a_skipped_robot_and_a_trigger_that_lost(browser, live_server, live_runtime, sales,
                                                                  tmp_path: Path):
    stages, deal = sales["stages"], sales["deal"]
    with live_runtime.sessions() as s, s.begin():
        trigger_config.create_trigger(s, stages["Qualified"], {"kind": "field_changed", "name": "Qualify on amount",
                                                               "settings": {"field": "amount"}})
        trigger_config.create_trigger(s, stages["Proposal"], {"kind": "field_changed", "name": "Propose on amount",
                                                              "settings": {"field": "amount"}})
    with live_runtime.sessions() as s, s.begin():
        update_deal(s, deal, {"amount": 900_00}, actor=Actor.user(sales["admin"].id))

    def skipped() -> bool:
        with live_runtime.sessions() as s:
            return s.scalar(select(RobotRun.status).where(RobotRun.deal_id == deal)) == "skipped"

    _wait(skipped, "the Qualified robot to be skipped by the worker")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/deals/{deal}")
    assert not page.locator("#why").is_visible()
    page.click("#tab-why")
    why = page.locator("#why")
    why.wait_for(state="visible")
    assert not page.locator("#timeline").is_visible()
    robot = why.locator(".why-item[data-source=robot]", has_text="Big-deal welcome")
    assert robot.get_attribute("data-outcome") == "skipped"
    assert "deal.amount is '900.00' (needs > 3000)" in robot.inner_text()
    lost = why.locator(".why-item[data-outcome=lost_to_earlier]")
    assert "Propose on amount" in lost.inner_text()
    assert "“Qualify on amount” on the earlier stage “Qualified” won" in lost.inner_text()
    ran = why.locator(".why-item[data-source=trigger][data-outcome=ran]")
    assert "Qualify on amount" in ran.inner_text()
    page.screenshot(path=str(tmp_path / "why-1440.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "why-390.png"), full_page=True)
    page.close()


def test_preview_while_dragging_a_card_over_a_column(browser, live_server, live_runtime, sales, tmp_path: Path):
    stages, deal = sales["stages"], sales["deal"]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    box = page.locator(f"#deal-{deal} .card-amount").bounding_box()
    dest = page.locator(f"#col-{stages['Proposal']} ol.cards").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + 20, steps=5)
    page.mouse.move(dest["x"] + dest["width"] / 2, dest["y"] + 20, steps=15)
    popover = page.locator("#drag-preview")
    popover.wait_for(state="visible")
    text = popover.inner_text()
    assert "If moved to “Proposal”" in text and "Send the proposal" in text and "in 1 day" in text
    page.screenshot(path=str(tmp_path / "drag-preview-1440.png"))
    with live_runtime.sessions() as s:  # hovering moves nothing
        assert s.get(Deal, deal).stage_id == stages["New"]
        assert s.scalar(select(RobotRun.id).where(RobotRun.deal_id == deal)) is None
    page.mouse.move(dest["x"] + dest["width"] / 2, dest["y"] + 24, steps=3)
    page.mouse.up()
    assert not popover.is_visible()
    page.wait_for_selector("#board-message.message-ok")
    with live_runtime.sessions() as s:
        assert s.get(Deal, deal).stage_id == stages["Proposal"]
    assert errors == []
    page.close()


def test_stage_bar_previews_the_move(browser, live_server, live_runtime, sales, tmp_path: Path):
    stages, deal = sales["stages"], sales["deal"]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    browser_login(page, live_server, "admin@example.com")
    page.goto(f"{live_server}/deals/{deal}")
    page.hover(f"#deal-stagebar button[value='{stages['Qualified']}']")
    preview = page.locator("#stage-preview")
    preview.wait_for(state="visible")
    assert "Big-deal welcome" in preview.inner_text() and "skipped" in preview.inner_text()
    page.screenshot(path=str(tmp_path / "stagebar-preview-390.png"), full_page=True)
    with live_runtime.sessions() as s:
        assert s.get(Deal, deal).stage_id == stages["New"]
    page.close()


def test_card_move_menu_previews_the_move(browser, live_server, live_runtime, sales, tmp_path: Path):
    stages, deal = sales["stages"], sales["deal"]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    page.click(f"#move-{deal}")
    page.focus(f"#deal-{deal} .card-menu button[value='{stages['Proposal']}']")  # keyboard users get it too
    preview = page.locator(f"#deal-{deal} .menu-preview")
    preview.wait_for(state="visible")
    assert "Send the proposal" in preview.inner_text() and "in 1 day" in preview.inner_text()
    page.screenshot(path=str(tmp_path / "menu-preview-1440.png"))
    with live_runtime.sessions() as s:
        assert s.get(Deal, deal).stage_id == stages["New"]
    page.close()
