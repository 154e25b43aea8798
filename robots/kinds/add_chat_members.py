"""add_chat_members: add people to a chat created by a robot (id from an earlier robot or a deal field)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from robots.chats import add_member, robot_chat
from robots.context import RunContext
from robots.recipients import Recipients, resolve
from robots.registry import KindSettings, RobotKind, register


class AddChatMembersSettings(KindSettings):
    chat: str = Field(min_length=1, description=N_("Chat id, e.g. {{ robots.chat.chat_id }} or {{ deal.fields.chat }}"))
    members: Recipients
    show_history: bool = Field(default=True, description=N_("New members see earlier messages"))


@register
class AddChatMembers(RobotKind):
    """Add members to a robot-created group chat."""

    kind = "add_chat_members"
    title = N_("Add chat members")
    category = "communication"
    Settings = AddChatMembersSettings
    outputs = ("added_user_ids",)
    templates = {"chat": "text"}
    setting_types = {"chat": "chat"}

    def run(self, ctx: RunContext, settings: AddChatMembersSettings) -> dict[str, Any]:
        """Add each resolved member not yet in the chat."""
        chat = robot_chat(ctx, ctx.render(settings.chat))
        added = [user.id for user in resolve(ctx, settings.members, "members")
                 if add_member(ctx, chat, user, sees_history=settings.show_history)]
        return {"added_user_ids": added}
