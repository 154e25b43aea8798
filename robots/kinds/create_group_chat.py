"""create_group_chat: a group chat with a name and at least two members; its id is the output `chat_id`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import Chat
from robots.chats import add_member
from robots.context import RunContext
from robots.errors import PermanentError
from robots.recipients import Recipients, resolve
from robots.registry import KindSettings, RobotKind, register


class CreateGroupChatSettings(KindSettings):
    name: str = Field(min_length=1, description=N_("Chat name"))
    members: Recipients


@register
class CreateGroupChat(RobotKind):
    """Create a group chat for the deal (later robots can add members and post into it)."""

    kind = "create_group_chat"
    title = N_("Create a group chat")
    category = "communication"
    Settings = CreateGroupChatSettings
    outputs = ("chat_id",)
    templates = {"name": "text"}

    def run(self, ctx: RunContext, settings: CreateGroupChatSettings) -> dict[str, Any]:
        """One chat per run (chats.run_id is unique), marked as created by a robot."""
        members = resolve(ctx, settings.members, "members")
        if len(members) < 2:
            raise PermanentError(_("a group chat needs at least 2 members, the settings name %(n_members)s",
                                    n_members=len(members)))
        name = " ".join(ctx.render(settings.name).split())[:200] or "Deal chat"
        chat = Chat(name=name, kind="group", deal_id=ctx.deal_id, run_id=ctx.run_id, created_by_robot=True,
                    created_at=ctx.now)
        ctx.session.add(chat)
        ctx.session.flush()
        for user in members:
            add_member(ctx, chat, user)
        return {"chat_id": chat.id}
