"""Pages that show what robots did: notifications (and the bell), feed, chats, dev mailbox, SMS outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import chats, records
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _, ngettext
from kanban.models import Chat, ChatMessage, EmailMessage, FeedPost, Notification, SmsMessage
from kanban.services.documents import attached_documents
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import optional_int
from kanban.web.templating import render

PAGE_SIZE = 100


def _rows(session: Session, stmt: Select[Any], key: Any, descending: bool = True) -> list[Any]:
    order = key.desc() if descending else key.asc()
    return list(session.scalars(stmt.order_by(order).limit(PAGE_SIZE)))


def _deal_filter(request: Request) -> int | None:
    return optional_int(request.query_params, "deal_id")


@access("deal:read")
async def notifications_page(request: Request) -> Response:
    """GET /notifications — my notifications, newest first, unread ones marked."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.notifications_query(session, user), Notification.id)
        return {"items": rows, "names": records.names(session, {n.sender_id for n in rows}),
                "unread": records.unread_count(session, user), "flash": flash}

    return render(request, "records/notifications.html", await in_tx(request, load))


@access("authenticated")
async def bell(request: Request) -> Response:
    """GET /notifications/bell — the top bar's bell with the unread count (loaded and refreshed by htmx)."""

    def load(session: Session) -> int:
        return records.unread_count(session, web_user(request, session))

    return render(request, "records/_bell_inner.html", {"unread": await in_tx(request, load)})


@access("authenticated")
async def mark_read(request: Request) -> Response:
    """POST /notifications/{id}/read or /notifications/read-all — mark my notifications read."""
    notification_id = request.path_params.get("notification_id")

    def act(session: Session) -> int:
        return records.mark_read(session, web_user(request, session), notification_id)

    count = await in_tx(request, act)
    request.session["flash"] = (ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.",
                                         count), "ok")
    return RedirectResponse("/notifications", status_code=303)


@access("deal:read")
async def feed_page(request: Request) -> Response:
    """GET /feed — posts addressed to everyone or to me."""

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.feed_query(session, user), FeedPost.id)
        return {"items": rows, "names": records.names(session, {p.author_id for p in rows})}

    return render(request, "records/feed.html", await in_tx(request, load))


@access("deal:read")
async def chats_page(request: Request) -> Response:
    """GET /chats — chats I belong to (admins: all)."""

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.chats_query(session, user), Chat.id)
        return {"items": rows, "members": records.chat_member_counts(session, [c.id for c in rows])}

    return render(request, "records/chats.html", await in_tx(request, load))


def _chat_context(session: Session, request: Request, chat_id: int, **extra: Any) -> dict[str, Any]:
    """What chat.html needs: the chat, members, latest messages, and the reply form's state."""
    user = web_user(request, session)
    chat, members = records.get_chat(session, user, chat_id)
    # The latest PAGE_SIZE messages, shown oldest first.
    latest = _rows(session, records.messages_query(session, user, chat_id), ChatMessage.id)[::-1]
    ids = {m.user_id for m in members} | {m.sender_id for m in latest}
    return {"chat": chat, "members": members, "messages": latest, "names": records.names(session, ids),
            "is_member": user.id in {m.user_id for m in members}, "errors": {}, "draft": "", **extra}


@access("deal:read")
async def chat_page(request: Request) -> Response:
    """GET /chats/{id} — members and messages of a chat I may read, and the reply form for members."""
    chat_id = request.path_params["chat_id"]
    return render(request, "records/chat.html", await in_tx(request, _chat_context, request, chat_id))


@access("authenticated")
async def chat_messages(request: Request) -> Response:
    """GET /chats/{id}/messages — the messages fragment (live updates replace it)."""
    chat_id = request.path_params["chat_id"]
    return render(request, "records/_chat_messages.html", await in_tx(request, _chat_context, request, chat_id))


@access("authenticated")
async def post_chat_message(request: Request) -> Response:
    """POST /chats/{id}/messages — a member's reply; @email mentions notify those members."""
    chat_id = request.path_params["chat_id"]
    form = await request.form()
    draft = form.get("text") if isinstance(form.get("text"), str) else ""

    def act(session: Session) -> None:
        chats.post_message(session, web_user(request, session), chat_id, str(draft))

    try:
        await in_tx(request, act)
    except ValidationError as exc:
        ctx = await in_tx(request, _chat_context, request, chat_id, errors=exc.fields, draft=draft)
        return render(request, "records/chat.html", ctx, status_code=422)
    return RedirectResponse(f"/chats/{chat_id}#reply", status_code=303)


@access("deal:read")
async def mailbox_page(request: Request) -> Response:
    """GET /mailbox[?deal_id=] — the email outbox: what was sent, captured or failed."""
    deal_id = _deal_filter(request)

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        rows = _rows(session, records.emails_query(session, user, deal_id), EmailMessage.id)
        return {"items": rows, "deal_id": deal_id}

    return render(request, "records/mailbox.html", await in_tx(request, load))


@access("deal:read")
async def email_page(request: Request) -> Response:
    """GET /mailbox/{id} — one email with its text and (escaped) HTML body."""
    email_id = request.path_params["email_id"]

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        email = session.scalars(records.emails_query(session, user).where(EmailMessage.id == email_id)).first()
        if email is None:
            raise NotFoundError(_("email %(email_id)s not found", email_id=email_id))
        return {"email": email, "attachments": attached_documents(session, email.id)}

    return render(request, "records/email.html", await in_tx(request, load))


@access("deal:read")
async def sms_page(request: Request) -> Response:
    """GET /sms[?deal_id=] — the SMS outbox."""
    deal_id = _deal_filter(request)

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        return {"items": _rows(session, records.sms_query(session, user, deal_id), SmsMessage.id), "deal_id": deal_id}

    return render(request, "records/sms.html", await in_tx(request, load))


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/bell", bell, methods=["GET"]),
    Route("/notifications/read-all", mark_read, methods=["POST"]),
    Route("/notifications/{notification_id:int}/read", mark_read, methods=["POST"]),
    Route("/feed", feed_page, methods=["GET"]),
    Route("/chats", chats_page, methods=["GET"]),
    Route("/chats/{chat_id:int}", chat_page, methods=["GET"]),
    Route("/chats/{chat_id:int}/messages", chat_messages, methods=["GET"]),
    Route("/chats/{chat_id:int}/messages", post_chat_message, methods=["POST"]),
    Route("/mailbox", mailbox_page, methods=["GET"]),
    Route("/mailbox/{email_id:int}", email_page, methods=["GET"]),
    Route("/sms", sms_page, methods=["GET"]),
]
