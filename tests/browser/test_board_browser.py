"""The board in real Chromium: drag and drop, keyboard card menu, no-JS form, two-user conflict."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import Deal, Notification, User
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from tests.browser.conftest import browser_login, drag
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def board(live_runtime: Any) -> dict[str, Any]:
    """A rep and their supervisor (who may move the rep's deals), a pipeline of four stages and three deals in
    its first stage."""
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep", department="Sales")
    make_user(live_runtime, "other@example.com", "supervisor", "Olga Other", department="Sales")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}, {"name": "Proposal"},
                                                {"name": "Won", "kind": "won"}])
        stages = [st.id for st in pipeline.stages]
        deals = [create_deal(s, title=title, pipeline_id=pipeline.id, actor=Actor.user(rep.id), amount=100_00,
                             responsible_id=rep.id).id
                 for title in ("Acme renewal", "Globex pilot", "Initech licences")]
    return {"stages": stages, "deals": deals, "pipeline_id": pipeline.id}


def _stage_of(runtime: Any, deal_id: int) -> int:
    with runtime.sessions() as s:
        return s.get(Deal, deal_id).stage_id


def test_drag_card_to_another_column_persists(browser, live_server, live_runtime, board):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    deal, target = board["deals"][0], board["stages"][2]
    drag(page, f"#deal-{deal} .card-amount", f"#col-{target} ol.cards")
    page.wait_for_selector("#board-message.message-ok")
    assert "Moved “Acme renewal” to “Proposal”." in page.inner_text("#board-message")
    assert page.locator(f"#col-{target} #deal-{deal}").count() == 1
    assert page.inner_text(f"#col-{target} .count") == "1"
    assert _stage_of(live_runtime, deal) == target
    page.reload()
    assert page.locator(f"#col-{target} #deal-{deal}").count() == 1
    assert page.locator(f"#col-{board['stages'][0]} .card").count() == 2
    page.close()


def test_keyboard_move_to(browser, live_server, live_runtime, board):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    deal, qualified = board["deals"][1], board["stages"][1]
    page.focus(f"#deal-{deal} .card-title")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == f"move-{deal}"
    page.keyboard.press("Enter")  # opens the card menu; focus goes to its first choice (New is where it is)
    page.locator(f"#deal-{deal} .menu-item:focus").wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Qualified"
    page.keyboard.press("Enter")
    page.wait_for_selector("#board-message.message-ok")
    assert page.locator(f"#col-{qualified} #deal-{deal}").count() == 1
    assert _stage_of(live_runtime, deal) == qualified
    # Focus stays on the moved card's menu, now in its new column; Escape closes an open menu.
    assert page.evaluate("document.activeElement.id") == f"move-{deal}"
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.locator(f"#deal-{deal} details.card-menu[open]").count() == 0
    assert page.evaluate("document.activeElement.id") == f"move-{deal}"
    page.close()


def test_move_to_without_javascript(browser, live_server, live_runtime, board):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    browser_login(page, live_server, "rep@example.com")
    deal, won = board["deals"][2], board["stages"][3]
    page.click(f"#move-{deal}")
    with page.expect_navigation():
        page.click(f"#deal-{deal} .menu-item[value='{won}']")
    assert "/board?pipeline_id=" in page.url
    assert "Moved “Initech licences” to “Won”." in page.inner_text("#board-message")
    assert page.locator(f"#col-{won} #deal-{deal}").count() == 1
    assert _stage_of(live_runtime, deal) == won
    context.close()


def test_conflict_between_two_users(browser, live_server, live_runtime, board):
    deal = board["deals"][0]
    new, qualified, proposal = board["stages"][:3]
    a_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    b_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    # B's live stream is down, so B's board goes stale (the situation the conflict path exists for).
    b_ctx.route("**/events*", lambda route: route.abort())
    a, b = a_ctx.new_page(), b_ctx.new_page()
    browser_login(a, live_server, "rep@example.com")
    browser_login(b, live_server, "other@example.com")
    a.click(f"#move-{deal}")
    a.click(f"#deal-{deal} .menu-item[value='{qualified}']")
    a.wait_for_selector("#board-message.message-ok")
    assert b.locator(f"#col-{new} #deal-{deal}").count() == 1  # B still sees the old state
    drag(b, f"#deal-{deal} .card-amount", f"#col-{proposal} ol.cards")
    b.wait_for_selector("#board-message.message-conflict")
    message = b.inner_text("#board-message")
    assert message == "“Acme renewal” was moved by someone else to “Qualified”; the board shows the current state."
    assert b.locator(f"#col-{qualified} #deal-{deal}").count() == 1
    assert b.locator(f"#col-{proposal} #deal-{deal}").count() == 0
    assert b.locator(f"#col-{new} #deal-{deal}").count() == 0
    assert _stage_of(live_runtime, deal) == qualified
    a_ctx.close()
    b_ctx.close()


def test_live_update_reaches_another_board(browser, live_server, live_runtime, board):
    deal, proposal = board["deals"][1], board["stages"][2]
    watcher = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(watcher, live_server, "other@example.com")
    watcher.wait_for_selector("body[data-live='on']", state="attached")
    with live_runtime.sessions() as s, s.begin():
        from kanban.services.deals import move_deal

        move_deal(s, deal, proposal, actor=Actor("robot", 1))
    watcher.wait_for_selector(f"#col-{proposal} #deal-{deal}", timeout=5000)
    assert watcher.inner_text(f"#col-{proposal} .count") == "1"
    watcher.close()


def test_deal_page_timeline_refreshes_live(browser, live_server, live_runtime, board):
    deal, won = board["deals"][0], board["stages"][3]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    page.goto(f"{live_server}/deals/{deal}")
    page.wait_for_selector("body[data-live='on']", state="attached")
    with live_runtime.sessions() as s, s.begin():
        from kanban.services.deals import move_deal

        move_deal(s, deal, won, actor=Actor("trigger", 9))
    page.wait_for_selector("#deal-live .tl-stage_changed", timeout=5000)
    assert "Moved from “New” to “Won”" in page.inner_text("#deal-live")
    page.close()


def test_the_bell_counts_new_notifications_without_a_reload(browser, live_server, live_runtime, board):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    page.goto(f"{live_server}/feed")  # a page with neither board nor deal still listens for the bell
    page.wait_for_selector("body[data-live='on']", state="attached")
    assert page.locator(".bell-count").count() == 0
    with live_runtime.sessions() as s, s.begin():
        rep = s.scalars(select(User).where(User.email == "rep@example.com")).one()
        s.add_all([Notification(user_id=rep.id, text="A robot notified you"),
                   Notification(user_id=rep.id, text="And again")])
    page.wait_for_selector(".bell-count[data-unread='2']", timeout=5000)
    page.close()


def test_load_more_pages_in_cards_without_console_errors(browser, live_server, live_runtime):
    live_runtime.settings.board_page_size = 3
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Long", [{"name": "Only"}])
        for i in range(7):
            create_deal(s, title=f"Deal {i}", pipeline_id=pipeline.id, actor=Actor.user(rep.id))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    browser_login(page, live_server, "rep@example.com")
    assert page.locator(".card").count() == 3
    page.click(".load-more a")
    page.locator(".card").nth(5).wait_for()
    page.click(".load-more a")
    page.locator(".card").nth(6).wait_for()
    assert page.locator(".load-more").count() == 0
    assert page.locator(".card-title").all_inner_texts() == [f"Deal {i}" for i in range(6, -1, -1)]
    assert problems == []  # no CSP violations, no failed requests
    page.close()


def test_drag_within_a_column_reorders(browser, live_server, live_runtime, board):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    column = f"#col-{board['stages'][0]}"
    assert page.locator(f"{column} .card-title").all_inner_texts() == [
        "Initech licences", "Globex pilot", "Acme renewal"]
    top, bottom = board["deals"][2], board["deals"][0]
    box = page.locator(f"#deal-{bottom}").bounding_box()
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{top}/move")) as reply:
        source = page.locator(f"#deal-{top} .card-amount").bounding_box()
        page.mouse.move(source["x"] + 20, source["y"] + 5)
        page.mouse.down()
        page.mouse.move(source["x"] + 30, source["y"] + 20, steps=5)
        page.mouse.move(box["x"] + 40, box["y"] + box["height"] - 4, steps=20)
        page.mouse.move(box["x"] + 40, box["y"] + box["height"] + 2, steps=3)
        page.mouse.up()
    assert reply.value.status == 200
    page.reload()
    assert page.locator(f"{column} .card-title").all_inner_texts() == [
        "Globex pilot", "Acme renewal", "Initech licences"]
    page.close()
