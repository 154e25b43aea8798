"""Pages that show what robots did: notifications (and the bell), feed, chats, dev mailbox, SMS outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import records
from kanban.errors import NotFoundError
from kanban.models import Chat, ChatMessage, EmailMessage, FeedPost, Notification, SmsMessage
from kanban.services.documents import attached_documents
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import render

PAGE_SIZE = 100


def _rows(session: Session, stmt: Select[Any], key: Any, descending: bool = True) -> list[Any]:
    order = key.desc() if descending else key.asc()
    return list(session.scalars(stmt.order_by(order).limit(PAGE_SIZE)))


def _deal_filter(request: Request) -> int | None:
    raw = request.query_params.get("deal_id", "")
    return int(raw) if raw.isdigit() else None


async def notifications_page(request: Request) -> Response:
    """GET /notifications — my notifications, newest first, unread ones marked."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.notifications_query(user), Notification.id)
        return {"items": rows, "names": records.names(session, {n.sender_id for n in rows}),
                "unread": records.unread_count(session, user.id), "flash": flash}

    return render(request, "records/notifications.html", await in_tx(request, load))


async def bell(request: Request) -> Response:
    """GET /notifications/bell — the top bar's bell with the unread count (loaded and refreshed by htmx)."""

    def load(session: Session) -> int:
        return records.unread_count(session, web_user(request, session).id)

    return render(request, "records/_bell_inner.html", {"unread": await in_tx(request, load)})


async def mark_read(request: Request) -> Response:
    """POST /notifications/{id}/read or /notifications/read-all — mark my notifications read."""
    notification_id = request.path_params.get("notification_id")

    def act(session: Session) -> int:
        return records.mark_read(session, web_user(request, session), notification_id)

    count = await in_tx(request, act)
    request.session["flash"] = (f"{count} notification{'' if count == 1 else 's'} marked read.", "ok")
    return RedirectResponse("/notifications", status_code=303)


async def feed_page(request: Request) -> Response:
    """GET /feed — posts addressed to everyone or to me."""

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.feed_query(session, user), FeedPost.id)
        return {"items": rows, "names": records.names(session, {p.author_id for p in rows})}

    return render(request, "records/feed.html", await in_tx(request, load))


async def chats_page(request: Request) -> Response:
    """GET /chats — chats I belong to (admins: all)."""

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.chats_query(user), Chat.id)
        return {"items": rows, "members": records.chat_member_counts(session, [c.id for c in rows])}

    return render(request, "records/chats.html", await in_tx(request, load))


async def chat_page(request: Request) -> Response:
    """GET /chats/{id} — members and messages of a chat I may read."""
    chat_id = request.path_params["chat_id"]

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        chat, members = records.get_chat(session, user, chat_id)
        messages = _rows(session, records.messages_query(session, user, chat_id), ChatMessage.id, descending=False)
        ids = {m.user_id for m in members} | {m.sender_id for m in messages}
        return {"chat": chat, "members": members, "messages": messages, "names": records.names(session, ids)}

    return render(request, "records/chat.html", await in_tx(request, load))


async def mailbox_page(request: Request) -> Response:
    """GET /mailbox[?deal_id=] — the email outbox: what was sent, captured or failed."""
    deal_id = _deal_filter(request)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return {"items": _rows(session, records.emails_query(deal_id), EmailMessage.id), "deal_id": deal_id}

    return render(request, "records/mailbox.html", await in_tx(request, load))


async def email_page(request: Request) -> Response:
    """GET /mailbox/{id} — one email with its text and (escaped) HTML body."""
    email_id = request.path_params["email_id"]

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        email = session.get(EmailMessage, email_id)
        if email is None:
            raise NotFoundError(f"email {email_id} not found")
        return {"email": email, "attachments": attached_documents(session, email.id)}

    return render(request, "records/email.html", await in_tx(request, load))


async def sms_page(request: Request) -> Response:
    """GET /sms[?deal_id=] — the SMS outbox."""
    deal_id = _deal_filter(request)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return {"items": _rows(session, records.sms_query(deal_id), SmsMessage.id), "deal_id": deal_id}

    return render(request, "records/sms.html", await in_tx(request, load))


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/bell", bell, methods=["GET"]),
    Route("/notifications/read-all", mark_read, methods=["POST"]),
    Route("/notifications/{notification_id:int}/read", mark_read, methods=["POST"]),
    Route("/feed", feed_page, methods=["GET"]),
    Route("/chats", chats_page, methods=["GET"]),
    Route("/chats/{chat_id:int}", chat_page, methods=["GET"]),
    Route("/mailbox", mailbox_page, methods=["GET"]),
    Route("/mailbox/{email_id:int}", email_page, methods=["GET"]),
    Route("/sms", sms_page, methods=["GET"]),
]
