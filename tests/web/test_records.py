"""Side-effect records (notifications, feed, chats, outboxes): API visibility rules and the HTML pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kanban import clock
from kanban.models import Chat, ChatMember, ChatMessage, EmailMessage, FeedPost, Notification, SmsMessage
from tests.conftest import csrf_of, login, make_user, token_for
from tests.web.conftest import add_deal


@pytest.fixture
def world(runtime: Any, pipeline: Any, admin: Any, rep: Any) -> dict[str, Any]:
    """Records of every kind: some for the rep, some for the admin only."""
    other = make_user(runtime, "other@example.com", "rep", "Olga Other")
    deal = add_deal(runtime, pipeline, admin, "Acme")
    now = clock.now()
    with runtime.sessions() as s, s.begin():
        s.add_all([
            Notification(user_id=rep.id, sender_id=admin.id, deal_id=deal.id, text="Call Acme back"),
            Notification(user_id=rep.id, text="Read already", read_at=now),
            Notification(user_id=admin.id, text="For the admin"),
            FeedPost(title="Hello all", text="Everyone sees this", recipients=["everyone"], author_id=admin.id),
            FeedPost(title="Rep only", text="To the rep", recipients=[rep.id]),
            FeedPost(title="Admin only", text="Secret", recipients=[admin.id]),
        ])
        team = Chat(name="Acme team", deal_id=deal.id, created_by_robot=True)
        private = Chat(name="Admins", kind="group")
        s.add_all([team, private])
        s.flush()
        s.add_all([
            ChatMember(chat_id=team.id, user_id=admin.id, joined_at=now - timedelta(hours=1)),
            ChatMember(chat_id=team.id, user_id=rep.id, joined_at=now, sees_history=False),
            ChatMember(chat_id=private.id, user_id=admin.id),
            ChatMember(chat_id=private.id, user_id=other.id),
            ChatMessage(chat_id=team.id, sender_id=admin.id, text="Before the rep joined",
                        created_at=now - timedelta(minutes=30)),
            ChatMessage(chat_id=team.id, text="Welcome!", message_type="important",
                        created_at=now + timedelta(seconds=1)),
            EmailMessage(deal_id=deal.id, kind="client", from_address="crm@example.com",
                         to_address="alice@acme.test", subject="Your offer", body_text="Hi Alice",
                         body_html="<p>Hi <script>alert(1)</script></p>", status="captured",
                         tracking_token="tok-123"),
            EmailMessage(from_address="crm@example.com", to_address="rep@example.com", subject="Other deal",
                         body_text="x", status="sent"),
            SmsMessage(deal_id=deal.id, user_id=rep.id, to_phone="+15550001", text="Call Acme", status="logged"),
        ])
    return {"deal": deal, "team": team, "private": private, "other": other}


def as_user(client: Any, runtime: Any, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(runtime, user.email)}"}


def test_notifications_api_own_only_and_mark_read(client, runtime, admin, rep, world):
    rep_h, admin_h = as_user(client, runtime, rep), as_user(client, runtime, admin)
    mine = client.get("/api/v1/notifications", headers=rep_h).json()["items"]
    assert [n["text"] for n in mine] == ["Read already", "Call Acme back"]
    assert client.get(f"/api/v1/notifications?user_id={admin.id}", headers=rep_h).status_code == 403
    # Issue 14 item 4: admins read their own notifications too (no one else's mixed in).
    assert len(client.get("/api/v1/notifications", headers=admin_h).json()["items"]) == 1
    theirs = client.get(f"/api/v1/notifications?user_id={rep.id}&unread=1", headers=admin_h).json()["items"]
    assert [n["text"] for n in theirs] == ["Call Acme back"]
    assert theirs[0]["deal_id"] == world["deal"].id and theirs[0]["read_at"] is None
    admin_note = client.get("/api/v1/notifications", headers=admin_h).json()["items"][0]
    assert client.post(f"/api/v1/notifications/{admin_note['id']}/read", headers=rep_h).status_code == 404
    assert client.post(f"/api/v1/notifications/{theirs[0]['id']}/read", headers=rep_h).json() == {"updated": 1}
    assert client.get("/api/v1/notifications?unread=true", headers=rep_h).json()["items"] == []


def test_feed_visibility(client, runtime, admin, rep, world):
    titles = [p["title"] for p in client.get("/api/v1/feed", headers=as_user(client, runtime, rep)).json()["items"]]
    assert titles == ["Rep only", "Hello all"]
    everything = client.get("/api/v1/feed", headers=as_user(client, runtime, admin)).json()["items"]
    assert len(everything) == 3 and everything[-1]["recipients"] == ["everyone"]


def test_chats_membership_and_history(client, runtime, admin, rep, world):
    rep_h = as_user(client, runtime, rep)
    team, private = world["team"], world["private"]
    assert [c["name"] for c in client.get("/api/v1/chats", headers=rep_h).json()["items"]] == ["Acme team"]
    assert client.get(f"/api/v1/chats/{private.id}", headers=rep_h).status_code == 404
    assert client.get(f"/api/v1/chats/{private.id}/messages", headers=rep_h).status_code == 404
    detail = client.get(f"/api/v1/chats/{team.id}", headers=rep_h).json()
    assert detail["created_by_robot"] and {m["user_id"] for m in detail["members"]} == {admin.id, rep.id}
    seen = [m["text"] for m in client.get(f"/api/v1/chats/{team.id}/messages", headers=rep_h).json()["items"]]
    assert seen == ["Welcome!"]  # joined without history
    admin_h = as_user(client, runtime, admin)
    allm = client.get(f"/api/v1/chats/{team.id}/messages", headers=admin_h).json()["items"]
    assert [m["text"] for m in allm] == ["Before the rep joined", "Welcome!"]
    assert len(client.get("/api/v1/chats", headers=admin_h).json()["items"]) == 2


def test_outboxes_filter_by_deal(client, runtime, admin, world):
    h = as_user(client, runtime, admin)
    deal = world["deal"].id
    emails = client.get(f"/api/v1/outbox/emails?deal_id={deal}", headers=h).json()["items"]
    assert [(e["subject"], e["tracking_token"], e["status"]) for e in emails] == [("Your offer", "tok-123", "captured")]
    assert len(client.get("/api/v1/outbox/emails", headers=h).json()["items"]) == 2
    sms = client.get(f"/api/v1/outbox/sms?deal_id={deal}", headers=h).json()["items"]
    assert [(m["to_phone"], m["text"]) for m in sms] == [("+15550001", "Call Acme")]
    assert client.get("/api/v1/outbox/sms?deal_id=x", headers=h).status_code == 400
    assert client.get("/api/v1/outbox/sms").status_code == 401


def test_bell_and_notifications_page(client, runtime, rep, world):
    login(client, rep.email)
    top = client.get("/board").text
    assert 'hx-get="/notifications/bell"' in top and 'href="/mailbox"' in top  # bell and Activity menu
    assert 'data-unread="1"' in client.get("/notifications/bell").text
    page = client.get("/notifications")
    assert "Call Acme back" in page.text and "1 unread" in page.text and "For the admin" not in page.text
    client.post("/notifications/read-all", data={"csrf_token": csrf_of(client, "/notifications")})
    assert "data-unread" not in client.get("/notifications/bell").text
    assert "0 unread" in client.get("/notifications").text


def test_feed_chats_mailbox_sms_pages(client, runtime, rep, world):
    login(client, rep.email)
    feed = client.get("/feed").text
    assert "Hello all" in feed and "Rep only" in feed and "Secret" not in feed
    chats = client.get("/chats").text
    assert "Acme team" in chats and "Admins" not in chats
    chat = client.get(f"/chats/{world['team'].id}").text
    assert "Welcome!" in chat and "Before the rep joined" not in chat and "Ada Admin" in chat
    assert client.get(f"/chats/{world['private'].id}").status_code == 404
    mailbox = client.get(f"/mailbox?deal_id={world['deal'].id}").text
    assert "Your offer" in mailbox and "Other deal" not in mailbox and "captured" in mailbox
    email_id = mailbox.split('href="/mailbox/', 1)[1].split('"', 1)[0]
    email = client.get(f"/mailbox/{email_id}").text
    assert "Hi Alice" in email and "&lt;script&gt;" in email and "<script>alert" not in email
    assert "Call Acme" in client.get("/sms").text
    assert client.get("/mailbox/999999").status_code == 404


def test_pages_need_login(client, world):
    for path in ("/notifications", "/feed", "/chats", "/mailbox", "/sms", "/notifications/bell"):
        assert client.get(path, follow_redirects=False).status_code == 303
