"""Queries over the records robots leave (notifications, feed, chats, outboxes) with who may see what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from kanban import clock, policy
from kanban.errors import NotFoundError, PermissionDeniedError
from kanban.i18n import _
from kanban.live import publish_notifications_changed
from kanban.models import Chat, ChatMember, ChatMessage, Deal, EmailMessage, FeedPost, Notification, SmsMessage, User


def notifications_query(session: Session, user: User, user_id: int | None = None, *,
                        unread: bool = False) -> Select[Any]:
    """The reader's own notifications (admins too: issue 14), about deals they may still read.

    An admin may ask for another user's with `user_id` (support); nobody gets everyone's mixed together.
    """
    if user_id is not None and user_id != user.id and not user.is_admin:
        raise PermissionDeniedError(_("you can only read your own notifications"))
    target = user_id if user_id is not None else user.id
    stmt = select(Notification).where(Notification.user_id == target,
                                      policy.deal_link_readable(session, user, Notification.deal_id))
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt


def unread_count(session: Session, user: User) -> int:
    """How many unread notifications the user has (the bell's number; the page lists the same rows)."""
    listed = notifications_query(session, user, unread=True).subquery()
    return session.scalar(select(func.count()).select_from(listed)) or 0


def mark_read(session: Session, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications (or all of them) read; returns how many changed."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        note = session.get(Notification, notification_id)
        if note is None or note.user_id != user.id:
            raise NotFoundError(_("notification %(notification_id)s not found", notification_id=notification_id))
        stmt = stmt.where(Notification.id == notification_id)
    result = session.execute(stmt.values(read_at=clock.now()).execution_options(synchronize_session="fetch"))
    if result.rowcount:
        publish_notifications_changed(session, [user.id])  # the bell in the user's other tabs
    return result.rowcount or 0


def _json_has(column: Any, value: Any, session_dialect: str) -> Any:
    if session_dialect == "postgresql":
        return type_coerce(column, JSONB).contains([value])
    # SQLite: JSON arrays are text; compare against each element through json_each.
    each = func.json_each(column).table_valued("value")
    return select(each.c.value).where(each.c.value == value).exists()


def feed_query(session: Session, user: User) -> Select[Any]:
    """Feed posts the user may read: addressed to everyone or to them (admins read all)."""
    stmt = select(FeedPost).where(policy.deal_link_readable(session, user, FeedPost.deal_id))
    if user.is_admin:
        return stmt
    dialect = session.get_bind().dialect.name
    return stmt.where(or_(_json_has(FeedPost.recipients, "everyone", dialect),
                          _json_has(FeedPost.recipients, user.id, dialect),
                          FeedPost.author_id == user.id))


def chats_query(session: Session, user: User) -> Select[Any]:
    """Chats the user belongs to (admins see every chat), of deals they may read."""
    stmt = select(Chat).where(policy.deal_link_readable(session, user, Chat.deal_id))
    if user.is_admin:
        return stmt
    member = select(ChatMember.chat_id).where(ChatMember.chat_id == Chat.id, ChatMember.user_id == user.id)
    return stmt.where(member.exists())


def get_chat(session: Session, user: User, chat_id: int) -> tuple[Chat, list[ChatMember]]:
    """A chat the user may read, with its members; NotFoundError otherwise (no hint it exists)."""
    chat = session.get(Chat, chat_id)
    members = list(session.scalars(select(ChatMember).where(ChatMember.chat_id == chat_id)
                                   .order_by(ChatMember.joined_at, ChatMember.user_id)))
    if chat is None or (not user.is_admin and user.id not in {m.user_id for m in members}) or (
            chat.deal_id is not None and not _deal_readable(session, user, chat.deal_id)):
        raise NotFoundError(_("chat %(chat_id)s not found", chat_id=chat_id))
    return chat, members


def messages_query(session: Session, user: User, chat_id: int) -> Select[Any]:
    """A chat's messages the user may read (members added without history see only later messages)."""
    _chat, members = get_chat(session, user, chat_id)
    stmt = select(ChatMessage).where(ChatMessage.chat_id == chat_id)
    me = next((m for m in members if m.user_id == user.id), None)
    if me is not None and not me.sees_history:
        stmt = stmt.where(ChatMessage.created_at >= me.joined_at)
    return stmt


def _deal_readable(session: Session, user: User, deal_id: int) -> bool:
    deal = session.get(Deal, deal_id)
    return deal is None or policy.can(session, user, "read", deal)


def emails_query(session: Session, user: User, deal_id: int | None = None) -> Select[Any]:
    """The email outbox (dev mailbox) rows about deals the user may read, optionally for one deal."""
    stmt = select(EmailMessage).where(policy.deal_link_readable(session, user, EmailMessage.deal_id))
    if not user.is_admin:
        # Invitations carry set-password links: only their recipient (by email) and admins may see them.
        stmt = stmt.where(EmailMessage.kind != "invitation")
    return stmt.where(EmailMessage.deal_id == deal_id) if deal_id is not None else stmt


def sms_query(session: Session, user: User, deal_id: int | None = None) -> Select[Any]:
    """The SMS outbox rows about deals the user may read, optionally for one deal."""
    stmt = select(SmsMessage).where(policy.deal_link_readable(session, user, SmsMessage.deal_id))
    return stmt.where(SmsMessage.deal_id == deal_id) if deal_id is not None else stmt


def names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """User names by id, for showing senders and authors."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


def chat_member_counts(session: Session, chat_ids: list[int]) -> dict[int, int]:
    """Number of members per chat."""
    if not chat_ids:
        return {}
    rows = session.execute(select(ChatMember.chat_id, func.count()).where(ChatMember.chat_id.in_(chat_ids))
                           .group_by(ChatMember.chat_id)).all()
    return dict(rows)

