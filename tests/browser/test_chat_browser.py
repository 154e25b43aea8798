"""Chat replies in real Chromium: a member's reply appears on another member's open chat page without a
reload, and the @mentioned member's bell counts it."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.models import Chat, ChatMember, ChatMessage
from tests.browser.conftest import browser_login
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def room(live_runtime: Any) -> int:
    """A robot-made deal chat with two reps in it."""
    rex = make_user(live_runtime, "rex@example.com", "rep", "Rex Rep")
    sam = make_user(live_runtime, "sam@example.com", "rep", "Sam Rivera")
    with live_runtime.sessions() as s, s.begin():
        chat = Chat(name="Deal room: Acme", created_by_robot=True, run_id=1)
        s.add(chat)
        s.flush()
        s.add_all([ChatMember(chat_id=chat.id, user_id=rex.id), ChatMember(chat_id=chat.id, user_id=sam.id),
                   ChatMessage(chat_id=chat.id, text="Deal qualified", run_id=1)])
        return chat.id


def test_reply_shows_live_and_rings_the_mentioned_bell(browser, live_server, room):
    sam_ctx, rex_ctx = browser.new_context(), browser.new_context()
    sam, rex = sam_ctx.new_page(), rex_ctx.new_page()
    browser_login(sam, live_server, "sam@example.com")
    browser_login(rex, live_server, "rex@example.com")
    sam.goto(f"{live_server}/chats/{room}")
    sam.wait_for_selector("body[data-live='on']", state="attached")  # subscribed to the chat's stream
    rex.goto(f"{live_server}/chats/{room}")
    rex.fill("textarea[name=text]", "Calling them now, @sam@example.com join?")
    rex.click("button:text-is('Send')")
    rex.wait_for_url(f"{live_server}/chats/{room}*")
    sam.locator("#chat-messages").get_by_text("Calling them now").wait_for(timeout=10_000)
    sam.locator(".bell-count[data-unread='1']").wait_for(timeout=10_000)
    sam_ctx.close()
    rex_ctx.close()
