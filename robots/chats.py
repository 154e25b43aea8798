"""Chats robots write to: group chats created by a robot, and private chats created on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from kanban.i18n import _
from kanban.models import Chat, ChatMember, User
from robots.errors import PermanentError

if TYPE_CHECKING:
    from robots.context import RunContext


def robot_chat(ctx: RunContext, rendered: str) -> Chat:
    """The group chat a rendered chat reference names; only chats created by a robot qualify."""
    text = rendered.strip()
    if not text.isdigit():
        raise PermanentError(_("chat must be a chat id, got %(text)s", text=repr(text[:50])))
    chat = ctx.session.get(Chat, int(text))
    if chat is None:
        raise PermanentError(_("chat %(text)s does not exist", text=text))
    if not chat.created_by_robot or chat.kind != "group":
        raise PermanentError(_("chat %(text)s was not created by a robot", text=text))
    return chat


def add_member(ctx: RunContext, chat: Chat, user: User, *, sees_history: bool = True) -> bool:
    """Add a user to a chat unless already there; True when added."""
    if ctx.session.get(ChatMember, (chat.id, user.id)) is not None:
        return False
    ctx.session.add(ChatMember(chat_id=chat.id, user_id=user.id, joined_at=ctx.now, sees_history=sees_history))
    ctx.session.flush()
    return True


def private_chat(ctx: RunContext, sender: User, recipient: User) -> Chat:
    """The private chat between two users, created (with both members) on first use."""
    mine = select(ChatMember.chat_id).where(ChatMember.user_id == sender.id)
    theirs = select(ChatMember.chat_id).where(ChatMember.user_id == recipient.id)
    chat = ctx.session.scalars(
        select(Chat).where(Chat.kind == "private", Chat.id.in_(mine), Chat.id.in_(theirs)).order_by(Chat.id)
    ).first()
    if chat is not None:
        return chat
    chat = Chat(name=f"{sender.name} ↔ {recipient.name}"[:200], kind="private", created_at=ctx.now)
    ctx.session.add(chat)
    ctx.session.flush()
    for user in (sender, recipient):
        add_member(ctx, chat, user)
    return chat
