"""A person's page in real Chromium: received email is listed there even when the person has no deal, and the
history of an automation on person.created names the person."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kanban import inbox
from kanban.events import Actor
from kanban.services import persons
from robots import automations
from robots.actors import drain
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("KANBAN_SCREENSHOTS")  # a folder: save screenshots there (looked at by hand)


def test_person_page_lists_received_email_and_history_names_the_person(browser: Any, live_server: str,
                                                                        live_runtime: Any) -> None:
    admin = make_user(live_runtime, "admin@example.com", "admin", "Ada Admin")
    with live_runtime.sessions() as s, s.begin():
        auto = automations.create_automation(s, {"name": "Welcome new people", "event": "person.created"},
                                             owner_id=admin.id)
        automations.add_action(s, auto.id, {"kind": "notify", "settings": {
            "text": "New person: {{ person.name }}", "recipients": [{"type": "user", "id": admin.id}]}})
        person = persons.create_person(s, {"name": "Carla Diaz", "email": "carla@client.example"},
                                       actor=Actor.user(admin.id))
        person_id, auto_id = person.id, auto.id
    with live_runtime.sessions() as s, s.begin():
        inbox.receive(s, b"From: Carla <carla@client.example>\r\nTo: sales@crm.example\r\n"
                         b"Subject: Pricing question\r\nMessage-ID: <p1@client.example>\r\n\r\n"
                         b"Hello, what does the yearly plan cost?\r\n")
    drain(live_runtime)
    for width in (1440, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        browser_login(page, live_server, "admin@example.com")
        page.goto(f"{live_server}/persons/{person_id}")
        mail = page.locator(".received-email li").first
        assert "Pricing question" in mail.inner_text() and mail.is_visible()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/person-mail-{width}.png", full_page=True)
        page.goto(f"{live_server}/automations/{auto_id}/executions")
        heading = page.locator(".execution h2").first.inner_text()
        assert f"person #{person_id}" in heading and "done" in heading
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/person-history-{width}.png", full_page=True)
        page.close()
