"""The rep's day in real Chromium: note with a mention, plan and complete an activity, drag to Lost with a
reason, the rotting badge, and no sideways page scroll at 390 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from kanban import clock
from kanban.crm_models import Activity, LostReason
from kanban.events import Actor
from kanban.models import Deal, Notification, Pipeline, Stage
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def crm(live_runtime: Any) -> dict[str, Any]:
    """A rep and an admin, a pipeline that requires a lost reason, two reasons, and three deals with persons."""
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Qualified"}, {"name": "Proposal"}])
        s.get(Pipeline, pipeline.id).lost_reason_required = True
        s.add_all([LostReason(name="Too expensive"), LostReason(name="Went with a competitor")])
        deals = [create_deal(s, title=title, pipeline_id=pipeline.id, actor=Actor.user(rep.id), amount=250_00,
                             responsible_id=rep.id, contact={"name": person, "company": company}).id
                 for title, person, company in (("Acme renewal", "Alice Moreau", "Acme"),
                                                ("Globex pilot", "Hank Scorpio", "Globex"),
                                                ("Initech licences", "Bill Lumbergh", "Initech"))]
    return {"deals": deals, "stages": [st.id for st in pipeline.stages], "rep": rep, "admin": admin}


def _deal(runtime: Any, deal_id: int) -> Deal:
    with runtime.sessions() as s:
        return s.get(Deal, deal_id)


def test_note_with_a_mention(browser, live_server, live_runtime, crm):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    deal = crm["deals"][0]
    page.goto(f"{live_server}/deals/{deal}")
    page.fill("#note-text", "Budget confirmed, please prepare the contract")
    page.select_option(".mention-select", "admin@example.com")  # the mention picker inserts @email
    assert page.input_value("#note-text").endswith(" @admin@example.com ")
    page.click("#panel-note button[type=submit]")
    page.wait_for_selector("#timeline .tl-note .mention")
    assert page.inner_text("#timeline .tl-note .mention") == "@Ada Admin"
    assert "Note added." in page.inner_text("#page-message")
    with live_runtime.sessions() as s:
        (note,) = s.scalars(select(Notification)).all()
        assert note.user_id == crm["admin"].id and "mentioned you" in note.text
    page.close()


def test_plan_and_complete_an_activity(browser, live_server, live_runtime, crm):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    deal = crm["deals"][1]
    page.goto(f"{live_server}/deals/{deal}")
    assert page.locator("#panel-activity").is_hidden()
    page.click("#tab-activity")
    page.select_option("#panel-activity select[name=type]", "call")
    page.fill("#panel-activity input[name=subject]", "Call about the pilot")
    page.fill("#panel-activity input[name=due_time]", "15:30")
    page.click("#panel-activity button[type=submit]")
    page.wait_for_selector(".deal-activities .activity-subject")
    assert page.inner_text(".deal-activities .activity-subject") == "Call about the pilot"
    assert "today 15:30" in page.inner_text(".deal-activities")
    # The board card now shows it as today's next activity (green).
    page.goto(f"{live_server}/board")
    assert "Call about the pilot" in page.inner_text(f"#deal-{deal} .next-activity.na-today")
    page.goto(f"{live_server}/activities")
    assert "Call about the pilot" in page.inner_text(".group-today")
    page.click(".group-today .check-button")
    page.wait_for_selector("#page-message.message-ok")
    assert "Done: Call about the pilot." in page.inner_text("#page-message")
    with live_runtime.sessions() as s:
        assert s.scalars(select(Activity.done)).one() is True
    page.goto(f"{live_server}/board")
    assert page.locator(f"#deal-{deal} .next-activity.na-none").count() == 1
    page.close()


def test_drag_to_lost_asks_for_a_reason(browser, live_server, live_runtime, crm):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    deal = crm["deals"][2]
    assert page.locator("#outcome-zones").is_hidden()
    box = page.locator(f"#deal-{deal} .card-amount").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + 30, steps=6)
    page.wait_for_selector("#outcome-zones .zone-lost", state="visible")  # zones appear while dragging
    zone = page.locator(".zone-lost").bounding_box()
    page.mouse.move(zone["x"] + zone["width"] / 2, zone["y"] + zone["height"] / 2, steps=15)
    page.mouse.move(zone["x"] + zone["width"] / 2 + 3, zone["y"] + zone["height"] / 2 + 2, steps=3)
    page.mouse.up()
    page.wait_for_selector("#lost-dialog[open]")
    assert page.inner_text("#lost-dialog .lost-deal") == "Initech licences"
    page.click("#lost-dialog button[type=submit]")  # no reason: the pipeline requires one
    assert page.locator("#lost-error").is_visible()
    assert _deal(live_runtime, deal).status == "open"
    page.select_option("#lost-reason", label="Too expensive")
    page.click("#lost-dialog button[type=submit]")
    page.wait_for_selector(f"#deal-{deal} .status-badge.status-lost")
    assert "“Initech licences” marked lost." in page.inner_text("#board-message")
    saved = _deal(live_runtime, deal)
    assert (saved.status, saved.lost_reason, saved.stage_id) == ("lost", "Too expensive", crm["stages"][0])
    page.close()


def test_rotting_badge_and_a_note_resets_it(browser, live_server, live_runtime, crm):
    deal = crm["deals"][0]
    with live_runtime.sessions() as s, s.begin():
        s.execute(update(Stage).where(Stage.id == crm["stages"][0]).values(rotting_days=3))
        s.execute(update(Deal).where(Deal.id == deal).values(last_activity_at=clock.now() - timedelta(days=6)))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    browser_login(page, live_server, "rep@example.com")
    assert page.inner_text(f"#deal-{deal} .rotting-badge") == "rotting 6 days"
    assert "card-rotting" in page.get_attribute(f"#deal-{deal}", "class")
    color = page.eval_on_selector(f"#deal-{deal} .rotting-badge", "el => getComputedStyle(el).backgroundColor")
    assert color == "rgb(180, 35, 24)"  # red
    assert page.locator(f"#deal-{crm['deals'][1]} .rotting-badge").count() == 0
    page.goto(f"{live_server}/deals/{deal}")
    page.fill("#note-text", "Called them, they are still interested")
    page.click("#panel-note button[type=submit]")
    page.wait_for_selector("#timeline .tl-note")
    page.goto(f"{live_server}/board")
    assert page.locator(f"#deal-{deal} .rotting-badge").count() == 0
    page.close()


def test_inline_edit_with_keyboard(browser, live_server, live_runtime, crm):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    deal = crm["deals"][0]
    page.goto(f"{live_server}/deals/{deal}")
    page.focus(".field[data-field=title] .fv")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "in-title"
    page.keyboard.type("Typed then cancelled")
    page.keyboard.press("Escape")
    assert page.locator(".field[data-field=title].editing").count() == 0
    assert page.input_value("#in-title") == "Acme renewal"
    page.focus(".field[data-field=title] .fv")
    page.keyboard.press("Enter")
    page.fill("#in-title", "Acme renewal 2027")
    page.keyboard.press("Enter")
    page.wait_for_selector("#page-message.message-ok")
    assert page.inner_text("#deal-head h1") == "Acme renewal 2027"
    assert "version" not in page.inner_text("main")
    page.close()


@pytest.mark.parametrize("path", ["/board", "/deals/{deal}", "/persons", "/activities"])
def test_no_sideways_page_scroll_on_a_phone(browser, live_server, live_runtime, crm, path):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    browser_login(page, live_server, "rep@example.com")
    page.goto(live_server + path.format(deal=crm["deals"][0]))
    # The page body never scrolls sideways: wide parts (the board's columns, the stage bar) scroll inside.
    widths = page.evaluate("() => [document.querySelector('main').scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    if path == "/board":
        board = page.evaluate("() => [document.querySelector('#board').scrollWidth, "
                              "document.querySelector('#board').clientWidth]")
        assert board[0] > board[1]  # the columns scroll inside the board
    if path.startswith("/deals"):
        page.click("#tab-activity")
        assert page.locator("#panel-activity input[name=subject]").is_visible()
        right = page.eval_on_selector("#panel-activity button[type=submit]", "el => el.getBoundingClientRect().right")
        assert right <= 390
    page.close()


def test_header_and_stage_bar_update_live_and_typing_is_kept(browser, live_server, live_runtime, crm):
    deal, qualified = crm["deals"][1], crm["stages"][1]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    browser_login(page, live_server, "rep@example.com")
    page.goto(f"{live_server}/deals/{deal}")
    page.wait_for_selector("body[data-live='on']", state="attached")
    page.click(".field[data-field=tags] .fv")
    page.fill("#in-tags", "typed while they moved it")
    from kanban.services.deals import move_deal
    from kanban.services.outcomes import mark_won

    with live_runtime.sessions() as s, s.begin():
        move_deal(s, deal, qualified, actor=Actor.user(crm["admin"].id))
        mark_won(s, deal, actor=Actor.user(crm["admin"].id))
    page.wait_for_selector("#deal-head .status-badge.status-won", timeout=5000)
    page.wait_for_selector(f"#deal-stagebar button[value='{qualified}'][aria-current='step']", timeout=5000)
    assert page.input_value("#in-tags") == "typed while they moved it"  # the open edit is not replaced
    page.keyboard.press("Enter")  # only the stage and status changed meanwhile: the save goes through
    page.wait_for_selector("#page-message.message-ok")
    assert page.inner_text(".field[data-field=tags] .fv-text") == "typed while they moved it"
    page.close()
