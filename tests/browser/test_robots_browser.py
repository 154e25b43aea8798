"""Automation in real Chromium: configure two chained robots, drag a deal into the column, see the results."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from robots.models import Robot
from tests.browser.conftest import browser_login, drag
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def sales(live_runtime: Any) -> dict[str, Any]:
    """An admin, a rep, a three-stage pipeline and one deal in New."""
    make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}, {"name": "Won", "kind": "won"}])
        stages = [st.id for st in pipeline.stages]
        deal = create_deal(s, title="Acme renewal", pipeline_id=pipeline.id, actor=Actor.user(rep.id),
                           amount=100_00, responsible_id=rep.id).id
    return {"pipeline_id": pipeline.id, "stages": stages, "deal": deal}


def add_robot(page: Any, stage_id: int, kind_title: str, fill: dict[str, str], checks: list[str]) -> None:
    """Add a robot through the picker and the generated form."""
    page.click(f"#stage-{stage_id} a.add-robot")
    page.click(f"a.kind-choice:text-is('{kind_title}')")
    for selector, value in fill.items():
        page.fill(selector, value)
    for selector in checks:
        page.check(selector)
    with page.expect_navigation():
        page.click("button:text('Save robot')")
    assert "/automation?pipeline_id=" in page.url, page.inner_text("main")


def drag_to_top(page: Any, stage_id: int, index: int) -> None:
    """Drag the robot card at 1-based `index` by its handle above the first card of the column."""
    handle = page.locator(f"#stage-{stage_id} [data-robot-id]:nth-child({index}) .drag-handle").bounding_box()
    first = page.locator(f"#stage-{stage_id} [data-robot-id]:nth-child(1)").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5, handle["y"] - 10, steps=5)
    page.mouse.move(first["x"] + first["width"] / 2, first["y"] + 4, steps=20)
    page.mouse.move(first["x"] + first["width"] / 2, first["y"] + 2, steps=3)
    page.mouse.up()


def robot_keys(runtime: Any, stage_id: int) -> list[str]:
    with runtime.sessions() as s:
        return [r.key for r in s.query(Robot).filter_by(stage_id=stage_id).order_by(Robot.position)]


def test_chained_robots_configured_in_the_ui_run_when_a_deal_is_dragged_in(browser, live_server, live_runtime,
                                                                          sales):
    qualified = sales["stages"][1]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    browser_login(page, live_server, "admin@example.com")
    page.click(".nav-more > summary")  # configuration pages are under "Admin"
    page.get_by_role("link", name="Automation", exact=True).click()
    page.wait_for_selector(f"#stage-{qualified}")
    add_robot(page, qualified, "Create a group chat",
              {"#f-name": "Team chat", "#f-key": "chat", "#f-s-name": "Deal {{ deal.title }}"},
              ["#f-s-members input[value='role:admin']", "#f-s-members input[value='role:rep']"])
    # Without "after previous" the chat id is refused at save time, with the reason next to the field.
    page.click(f"#stage-{qualified} a.add-robot")
    page.click("a.kind-choice:text-is('Send a chat message')")
    assert "robots.chat.chat_id" in page.inner_text(".placeholder-help")
    page.fill("#f-s-chat", "{{ robots.chat.chat_id }}")
    page.fill("#f-s-text", "Welcome aboard, {{ deal.title }}!")
    page.click("button:text('Save robot')")
    page.wait_for_selector("[data-setting=chat] .field-error")
    assert "after previous" in page.inner_text("[data-setting=chat] .field-error")
    page.check("input[name=after_previous]")
    with page.expect_navigation():
        page.click("button:text('Save robot')")
    add_robot(page, qualified, "Add a comment", {"#f-key": "note", "#f-s-text": "Qualified: {{ deal.title }}"}, [])
    cards = page.locator(f"#stage-{qualified} .robot-card")
    assert cards.count() == 3 and "after previous" in cards.nth(1).inner_text()

    # Drag the comment robot to the top: allowed, the chain stays intact.
    drag_to_top(page, qualified, 3)
    page.wait_for_selector(".order-status:text('Order saved.')", timeout=10_000)
    assert robot_keys(live_runtime, qualified) == ["note", "chat", "send_chat_message_1"]
    # Dragging the message robot above the chat robot would break its reference: refused and put back.
    drag_to_top(page, qualified, 3)
    page.wait_for_selector(".order-status.flash-error", timeout=10_000)
    assert "chat" in page.inner_text(".order-status")
    assert robot_keys(live_runtime, qualified) == ["note", "chat", "send_chat_message_1"]

    page.goto(f"{live_server}/board?pipeline_id={sales['pipeline_id']}")
    drag(page, f"#deal-{sales['deal']} .card-amount", f"#col-{qualified} ol.cards")
    page.wait_for_selector("#board-message.message-ok")

    page.goto(f"{live_server}/deals/{sales['deal']}")
    deadline = time.monotonic() + 20
    while page.locator(".robot-runs [data-status=done]").count() < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    runs = page.locator(".robot-runs [data-status=done]")
    assert runs.count() == 3, page.inner_text(".robot-runs")
    assert "Qualified" in page.inner_text(".robot-runs .run-entry h3")
    assert "Qualified: Acme renewal" in page.inner_text("main")  # the comment on the timeline
    with page.expect_navigation():
        page.click(".robot-runs a.run-chat")
    assert page.inner_text("h1").startswith("Deal Acme renewal")
    assert "Welcome aboard, Acme renewal!" in page.inner_text(".messages")
    page.close()
