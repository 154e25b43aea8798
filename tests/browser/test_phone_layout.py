"""Phone (390 px) and desktop (1440 px) layout in real Chromium: no page scrolls sideways, the top bar folds
into a menu on phones, long words wrap. Runs on the demo data (with its robot-made history)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.demo import ADMIN_EMAIL, ADMIN_PASSWORD, play_history, seed_demo
from kanban.events import SYSTEM
from kanban.models import Chat, Deal, EmailMessage, FeedPost, Notification, User
from kanban.services.deals import update_deal
from robots.models import Robot
from tests.browser.conftest import browser_login

pytestmark = pytest.mark.browser
LONG_WORD = "W" * 5000


@pytest.fixture
def demo(live_runtime: Any) -> dict[str, Any]:
    """The demo data with its history, a 300-character one-word title and 5,000-character words in records."""
    with live_runtime.sessions() as s, s.begin():
        seed_demo(s)
    play_history(live_runtime)
    with live_runtime.sessions() as s, s.begin():
        deal = s.scalars(select(Deal).order_by(Deal.id)).first()
        update_deal(s, deal.id, {"title": "W" * 300}, actor=SYSTEM)
        admin = s.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
        s.add(Notification(user_id=admin.id, deal_id=deal.id, text=f"Look: {LONG_WORD}"))
        s.add(FeedPost(title=LONG_WORD[:300], text=LONG_WORD, recipients=["everyone"]))
        chat = s.scalars(select(Chat).order_by(Chat.id)).first()
        robot = s.scalars(select(Robot).where(Robot.kind == "email_client").order_by(Robot.id)).first()
        email = s.scalars(select(EmailMessage).order_by(EmailMessage.id)).first()
        stage_id = robot.stage_id
        return {"deal": deal.id, "chat": chat.id, "robot": robot.id, "email": email.id, "stage": stage_id}


def _pages(demo: dict[str, Any]) -> list[str]:
    return ["/board", f"/deals/{demo['deal']}", "/notifications", "/feed", "/chats", f"/chats/{demo['chat']}",
            "/mailbox", f"/mailbox/{demo['email']}", "/sms", "/admin/pipelines", "/automation",
            f"/automation/robots/{demo['robot']}", f"/automation/stages/{demo['stage']}/robots/new?kind=email_client",
            f"/admin/stages/{demo['stage']}/delete"]


def _overflowing(page: Any, base: str, paths: list[str]) -> dict[str, int]:
    wide = {}
    for path in paths:
        response = page.goto(base + path)
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.evaluate("window.innerWidth"):
            wide[path] = width
    return wide


def test_no_page_scrolls_sideways_on_a_phone(browser, live_server, demo):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    browser_login(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert _overflowing(page, live_server, _pages(demo)) == {}
    page.close()


def test_phone_top_bar_folds_into_a_menu(browser, live_server, demo):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    browser_login(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{live_server}/notifications")
    bar = page.locator("header.topbar").bounding_box()
    assert bar["height"] <= 60  # one row: brand, bell, menu button
    logout = page.get_by_role("button", name="Log out")
    assert not logout.is_visible()
    page.click("label.menu-button")
    assert logout.is_visible()
    box = logout.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # not cut off
    who = page.locator(".account .who").bounding_box()
    assert who["height"] < 30  # the name stays on one line
    page.locator(".nav-more > summary").click()  # configuration pages are under "Admin"
    page.get_by_role("link", name="Pipelines").click()
    page.wait_for_url(f"{live_server}/admin/pipelines*")
    page.close()


def test_robot_form_uses_the_phone_width(browser, live_server, demo):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    browser_login(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{live_server}/automation/robots/{demo['robot']}")
    form = page.locator(".robot-edit").bounding_box()
    help_box = page.locator(".placeholder-help").bounding_box()
    assert form["width"] > 300  # not squeezed by the placeholder list
    assert help_box["y"] >= form["y"] + form["height"] - 1  # the list comes below, not over it
    page.close()


def test_desktop_pages_fit_and_keep_the_one_row_top_bar(browser, live_server, demo):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    browser_login(page, live_server, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert _overflowing(page, live_server, _pages(demo)) == {}
    page.goto(f"{live_server}/board")
    assert not page.locator("label.menu-button").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    assert not page.get_by_role("link", name="Automation", exact=True).is_visible()  # folded under "Admin"
    page.locator(".nav-more > summary").click()
    assert page.get_by_role("link", name="Automation", exact=True).is_visible()
    page.close()
