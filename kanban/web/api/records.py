"""API: the records robots leave — notifications, feed, chats and messages, email and SMS outboxes."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import chats, records
from kanban.models import Chat, ChatMember, ChatMessage, EmailMessage, FeedPost, Notification, SmsMessage
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, iso, page, paginate
from kanban.web.api.schema import BOOL, INT, STR, TIME, arr, component, nullable, obj, page_of

NOTIFICATION = component("Notification", obj({
    "id": INT, "user_id": INT, "sender_id": nullable(INT), "deal_id": nullable(INT), "run_id": nullable(INT),
    "text": STR, "created_at": TIME, "read_at": nullable(TIME),
}, ["id", "user_id", "text", "created_at", "read_at"]))
FEED_POST = component("FeedPost", obj({
    "id": INT, "author_id": nullable(INT), "deal_id": nullable(INT), "run_id": nullable(INT), "title": STR,
    "text": STR, "tag": nullable(STR), "recipients": arr({}), "attachments": arr({}), "created_at": TIME,
}, ["id", "title", "text", "recipients", "created_at"]))
CHAT = component("Chat", obj({
    "id": INT, "name": STR, "kind": STR, "deal_id": nullable(INT), "run_id": nullable(INT),
    "created_by_robot": BOOL, "created_at": TIME, "members": arr(obj({
        "user_id": INT, "joined_at": TIME, "sees_history": BOOL}, ["user_id", "joined_at", "sees_history"])),
}, ["id", "name", "kind", "created_by_robot", "created_at"]))
MESSAGE = component("ChatMessage", obj({
    "id": INT, "chat_id": INT, "sender_id": nullable(INT), "run_id": nullable(INT), "text": STR,
    "message_type": STR, "created_at": TIME,
}, ["id", "chat_id", "text", "message_type", "created_at"]))
EMAIL = component("OutboxEmail", obj({
    "id": INT, "run_id": nullable(INT), "deal_id": nullable(INT), "kind": STR, "from_address": STR,
    "to_address": STR, "subject": STR, "body_text": STR, "body_html": nullable(STR), "status": STR,
    "attempts": INT, "error": nullable(STR), "tracking_token": nullable(STR), "opened_at": nullable(TIME),
    "open_count": INT, "clicked_at": nullable(TIME), "created_at": TIME, "sent_at": nullable(TIME),
}, ["id", "to_address", "subject", "status", "tracking_token"]))
SMS = component("OutboxSms", obj({
    "id": INT, "run_id": nullable(INT), "deal_id": nullable(INT), "user_id": nullable(INT), "to_phone": STR,
    "text": STR, "status": STR, "attempts": INT, "provider": STR, "provider_message_id": nullable(STR),
    "error": nullable(STR), "created_at": TIME, "sent_at": nullable(TIME),
}, ["id", "to_phone", "text", "status"]))
DEAL_PARAM = {"name": "deal_id", "in": "query", "schema": INT}


def notification_view(n: Notification) -> dict[str, Any]:
    """A notification as JSON."""
    return {"id": n.id, "user_id": n.user_id, "sender_id": n.sender_id, "deal_id": n.deal_id, "run_id": n.run_id,
            "text": n.text, "created_at": iso(n.created_at), "read_at": iso(n.read_at)}


def post_view(p: FeedPost) -> dict[str, Any]:
    """A feed post as JSON."""
    return {"id": p.id, "author_id": p.author_id, "deal_id": p.deal_id, "run_id": p.run_id, "title": p.title,
            "text": p.text, "tag": p.tag, "recipients": p.recipients or [], "attachments": p.attachments or [],
            "created_at": iso(p.created_at)}


def chat_view(c: Chat, members: list[ChatMember] | None = None) -> dict[str, Any]:
    """A chat as JSON (with members when given)."""
    out: dict[str, Any] = {"id": c.id, "name": c.name, "kind": c.kind, "deal_id": c.deal_id, "run_id": c.run_id,
                           "created_by_robot": c.created_by_robot, "created_at": iso(c.created_at)}
    if members is not None:
        out["members"] = [{"user_id": m.user_id, "joined_at": iso(m.joined_at), "sees_history": m.sees_history}
                          for m in members]
    return out


def message_view(m: ChatMessage) -> dict[str, Any]:
    """A chat message as JSON."""
    return {"id": m.id, "chat_id": m.chat_id, "sender_id": m.sender_id, "run_id": m.run_id, "text": m.text,
            "message_type": m.message_type, "created_at": iso(m.created_at)}


def email_view(e: EmailMessage) -> dict[str, Any]:
    """An outbox email as JSON (with its tracking token)."""
    return {"id": e.id, "run_id": e.run_id, "deal_id": e.deal_id, "kind": e.kind, "from_address": e.from_address,
            "to_address": e.to_address, "subject": e.subject, "body_text": e.body_text, "body_html": e.body_html,
            "status": e.status, "attempts": e.attempts, "error": e.error, "tracking_token": e.tracking_token,
            "opened_at": iso(e.opened_at), "open_count": e.open_count, "clicked_at": iso(e.clicked_at),
            "created_at": iso(e.created_at), "sent_at": iso(e.sent_at)}


def sms_view(s: SmsMessage) -> dict[str, Any]:
    """An outbox SMS as JSON."""
    return {"id": s.id, "run_id": s.run_id, "deal_id": s.deal_id, "user_id": s.user_id, "to_phone": s.to_phone,
            "text": s.text, "status": s.status, "attempts": s.attempts, "provider": s.provider,
            "provider_message_id": s.provider_message_id, "error": s.error, "created_at": iso(s.created_at),
            "sent_at": iso(s.sent_at)}


@endpoint("My notifications (admins may pass another user_id)", response=page_of(NOTIFICATION),
          access="deal:read", params=[
    *PAGE_PARAMS, {"name": "user_id", "in": "query", "schema": INT},
    {"name": "unread", "in": "query", "schema": {"type": "boolean"}}])
def list_notifications(call: Call) -> dict[str, Any]:
    """Newest first."""
    unread = (call.query_str("unread") or "").lower() in ("1", "true", "yes")
    stmt = records.notifications_query(call.session, call.user, call.query_int("user_id"), unread=unread)
    rows, nxt = paginate(call, stmt, Notification.id, descending=True)
    return page([notification_view(n) for n in rows], nxt)


@endpoint("Mark one of my notifications read", response=obj({"updated": INT}, ["updated"]),
          access="authenticated")
def read_notification(call: Call) -> dict[str, Any]:
    """Sets read_at (idempotent)."""
    return {"updated": records.mark_read(call.session, call.user, call.path_int("notification_id"))}


@endpoint("Mark all my notifications read", response=obj({"updated": INT}, ["updated"]),
          access="authenticated")
def read_all_notifications(call: Call) -> dict[str, Any]:
    """Sets read_at on every unread notification of the token's user."""
    return {"updated": records.mark_read(call.session, call.user)}


@endpoint("Feed posts visible to me", response=page_of(FEED_POST), params=PAGE_PARAMS, access="deal:read")
def list_feed(call: Call) -> dict[str, Any]:
    """Newest first."""
    rows, nxt = paginate(call, records.feed_query(call.session, call.user), FeedPost.id, descending=True)
    return page([post_view(p) for p in rows], nxt)


@endpoint("Chats I belong to (admins: all)", response=page_of(CHAT), params=PAGE_PARAMS, access="deal:read")
def list_chats(call: Call) -> dict[str, Any]:
    """Newest first."""
    rows, nxt = paginate(call, records.chats_query(call.session, call.user), Chat.id, descending=True)
    return page([chat_view(c) for c in rows], nxt)


@endpoint("A chat with its members", response=CHAT, access="deal:read")
def get_chat(call: Call) -> dict[str, Any]:
    """404 for chats the user cannot see."""
    chat, members = records.get_chat(call.session, call.user, call.path_int("chat_id"))
    return chat_view(chat, members)


@endpoint("Messages of a chat, oldest first", response=page_of(MESSAGE), params=PAGE_PARAMS, access="deal:read")
def list_messages(call: Call) -> dict[str, Any]:
    """Members added without history see only messages from when they joined."""
    stmt = records.messages_query(call.session, call.user, call.path_int("chat_id"))
    rows, nxt = paginate(call, stmt, ChatMessage.id)
    return page([message_view(m) for m in rows], nxt)


@endpoint("Post a message in a chat (members only); @email mentions notify those members", status=201,
          body=obj({"text": STR}, ["text"]), response=MESSAGE, access="authenticated")
def post_message(call: Call) -> dict[str, Any]:
    """The new message."""
    return message_view(chats.post_message(call.session, call.user, call.path_int("chat_id"), call.body()["text"]))


@endpoint("Email outbox (dev mailbox)", response=page_of(EMAIL), params=[*PAGE_PARAMS, DEAL_PARAM],
          access="deal:read")
def list_emails(call: Call) -> dict[str, Any]:
    """Newest first, optionally for one deal."""
    stmt = records.emails_query(call.session, call.user, call.query_int("deal_id"))
    rows, nxt = paginate(call, stmt, EmailMessage.id, descending=True)
    return page([email_view(e) for e in rows], nxt)


@endpoint("SMS outbox", response=page_of(SMS), params=[*PAGE_PARAMS, DEAL_PARAM], access="deal:read")
def list_sms(call: Call) -> dict[str, Any]:
    """Newest first, optionally for one deal."""
    stmt = records.sms_query(call.session, call.user, call.query_int("deal_id"))
    rows, nxt = paginate(call, stmt, SmsMessage.id, descending=True)
    return page([sms_view(s) for s in rows], nxt)


routes = [
    Route("/api/v1/notifications", list_notifications, methods=["GET"]),
    Route("/api/v1/notifications/read", read_all_notifications, methods=["POST"]),
    Route("/api/v1/notifications/{notification_id:int}/read", read_notification, methods=["POST"]),
    Route("/api/v1/feed", list_feed, methods=["GET"]),
    Route("/api/v1/chats", list_chats, methods=["GET"]),
    Route("/api/v1/chats/{chat_id:int}", get_chat, methods=["GET"]),
    Route("/api/v1/chats/{chat_id:int}/messages", list_messages, methods=["GET"]),
    Route("/api/v1/chats/{chat_id:int}/messages", post_message, methods=["POST"]),
    Route("/api/v1/outbox/emails", list_emails, methods=["GET"]),
    Route("/api/v1/outbox/sms", list_sms, methods=["GET"]),
]
