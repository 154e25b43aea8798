"""Chat replies: members write (web form and API), live notices for open chat pages, @email mentions notify."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kanban.chats import mentioned_emails, post_message
from kanban.models import Chat, ChatMember, ChatMessage, Notification, User
from tests.conftest import csrf_of, login, make_user, token_for


@pytest.fixture
def chat(runtime, admin, rep):
    """A deal chat a robot created, with the rep and a colleague as members (the admin is not one)."""
    make_user(runtime, "sam@example.com", "rep", "Sam Rivera")
    make_user(runtime, "out@example.com", "rep", "Olive Outsider")
    with runtime.sessions() as s, s.begin():
        sam = s.scalars(select(User).where(User.email == "sam@example.com")).one()
        room = Chat(name="Deal: Acme", kind="group", created_by_robot=True, run_id=987)
        s.add(room)
        s.flush()
        s.add_all([ChatMember(chat_id=room.id, user_id=rep.id), ChatMember(chat_id=room.id, user_id=sam.id)])
        s.add(ChatMessage(chat_id=room.id, text="Deal won, team!", run_id=987))
        return {"id": room.id, "sam": sam.id}


def _notes(runtime, user_id):
    with runtime.sessions() as s:
        return [n.text for n in s.scalars(select(Notification).where(Notification.user_id == user_id))]


def _messages(runtime, chat_id):
    with runtime.sessions() as s:
        return [(m.sender_id, m.text) for m in s.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id)
                                                         .order_by(ChatMessage.id))]


def test_mentions_are_emails_after_an_at():
    text = "@Sam@Example.com and @kim@x.io. mail me at me@x.io, @sam@example.com again"
    assert mentioned_emails(text) == ["sam@example.com", "kim@x.io"]


def test_api_member_replies_and_mentions_notify_members_only(client, runtime, rep, admin, chat):
    headers = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    text = "On it — @sam@example.com can you call them? cc @out@example.com @rep@example.com"
    response = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": text}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["chat_id"], body["sender_id"], body["text"]) == (chat["id"], rep.id, text)
    assert _messages(runtime, chat["id"])[-1] == (rep.id, text)
    assert _notes(runtime, chat["sam"]) == [f"Rex Rep mentioned you in “Deal: Acme”: {text}"]
    with runtime.sessions() as s:
        outsider = s.scalars(select(User.id).where(User.email == "out@example.com")).one()
    assert _notes(runtime, outsider) == [] and _notes(runtime, rep.id) == []  # not a member / the author


def test_api_refuses_non_members_unknown_chats_and_empty_text(client, runtime, rep, admin, chat):
    admin_h = {"Authorization": f"Bearer {token_for(runtime, admin.email)}"}
    refused = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": "hi"}, headers=admin_h)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/chats/99999/messages", json={"text": "hi"}, headers=admin_h).status_code == 404
    rep_h = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    empty = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": "   "}, headers=rep_h)
    assert empty.status_code == 422 and "text" in empty.json()["error"]["fields"]
    long = client.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": "x" * 4001}, headers=rep_h)
    assert long.status_code == 422
    assert _messages(runtime, chat["id"]) == [(None, "Deal won, team!")]


def test_web_reply_form(client, runtime, rep, chat):
    login(client, rep.email)
    page = client.get(f"/chats/{chat['id']}")
    assert 'action="/chats/{}/messages"'.format(chat["id"]) in page.text
    token = csrf_of(client, f"/chats/{chat['id']}")
    response = client.post(f"/chats/{chat['id']}/messages", data={"csrf_token": token, "text": "Calling now"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert "Calling now" in client.get(f"/chats/{chat['id']}").text
    assert "Calling now" in client.get(f"/chats/{chat['id']}/messages").text  # the live fragment
    empty = client.post(f"/chats/{chat['id']}/messages", data={"csrf_token": token, "text": " "})
    assert empty.status_code == 422 and "write a message" in empty.text


def test_admin_reads_but_gets_no_reply_form_when_not_a_member(client, admin, chat):
    login(client, admin.email)
    page = client.get(f"/chats/{chat['id']}").text
    assert "Deal won, team!" in page and "Only members of this chat can write in it." in page
    assert 'action="/chats/{}/messages"'.format(chat["id"]) not in page


def test_posting_notifies_open_chat_pages_and_the_mentioned_bell(runtime, rep, chat):
    hub = runtime.extras["live"]

    def act():
        with runtime.sessions() as s, s.begin():
            post_message(s, s.get(User, rep.id), chat["id"], "ping @sam@example.com")

    async def main():
        page, bell, other = (hub.subscribe(chat_id=chat["id"]), hub.subscribe(user_id=chat["sam"]),
                             hub.subscribe(chat_id=chat["id"] + 1))
        try:
            await asyncio.to_thread(act)
            await asyncio.sleep(0.2)
            return [[s.queue.get_nowait() for _ in range(s.queue.qsize())] for s in (page, bell, other)]
        finally:
            for s in (page, bell, other):
                hub.unsubscribe(s)

    page, bell, other = asyncio.run(main())
    assert page == [{"type": "chat", "chat_id": chat["id"]}]
    assert bell == [{"type": "notifications", "user_ids": [chat["sam"]]}]
    assert other == []


def test_chat_stream_needs_read_access(client, runtime, chat):
    make_user(runtime, "nosy@example.com", "rep", "Nosy")
    login(client, "nosy@example.com")
    assert client.get(f"/events?chat_id={chat['id']}").status_code == 404
