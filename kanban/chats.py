"""Replies in chats: members post messages; an @email mention notifies that member (bell, live)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.errors import NotFoundError, PermissionDeniedError, ValidationError
from kanban.i18n import _
from kanban.models import Chat, ChatMember, ChatMessage, Notification, User

MAX_TEXT = 4000
# "@sam@demo.local": an @ that does not continue a word, then an email address (a trailing dot is not part).
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")


def mentioned_emails(text: str) -> list[str]:
    """The email addresses @mentioned in a message, lower-cased, in order, each once."""
    return list(dict.fromkeys(m.lower() for m in MENTION.findall(text)))


def post_message(session: Session, user: User, chat_id: int, text: str) -> ChatMessage:
    """A member's message in a chat; mentioned members (not the author) get a notification.

    NotFoundError for an unknown chat, PermissionDeniedError for a non-member (admins read every chat but
    write only where they are members), ValidationError for empty or over-long text.
    """
    chat = session.get(Chat, chat_id)
    if chat is None:
        raise NotFoundError(_("chat %(chat_id)s not found", chat_id=chat_id))
    members = set(session.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))
    if user.id not in members:
        raise PermissionDeniedError(_("only members of the chat can write in it"))
    clean = text.strip() if isinstance(text, str) else ""
    if not clean:
        raise ValidationError(_("the message is empty"), {"text": _("write a message")})
    if len(clean) > MAX_TEXT:
        raise ValidationError(_("the message is too long"),
                              {"text": _("a message is at most %(max_text)s characters (this one has %(n_clean)s)",
                                          max_text=MAX_TEXT, n_clean=len(clean))})
    message = ChatMessage(chat_id=chat.id, sender_id=user.id, text=clean, message_type="general",
                          created_at=clock.now())
    session.add(message)
    session.flush()
    _notify_mentions(session, user, chat, members, clean)
    return message


def _notify_mentions(session: Session, author: User, chat: Chat, members: set[int], text: str) -> None:
    """One notification per mentioned active member; the row's insert announces it to their bell."""
    emails = mentioned_emails(text)
    if not emails:
        return
    wanted = select(User.id).where(func.lower(User.email).in_(emails), User.active.is_(True))
    excerpt = text if len(text) <= 200 else text[:199] + "…"
    for user_id in session.scalars(wanted):
        if user_id in members and user_id != author.id:
            session.add(Notification(user_id=user_id, sender_id=author.id, deal_id=chat.deal_id,
                                     text=f"{author.name} mentioned you in “{chat.name}”: {excerpt}"))
    session.flush()
