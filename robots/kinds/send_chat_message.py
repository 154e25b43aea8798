"""send_chat_message: a general, notification or important message into a robot-created group chat."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_
from kanban.models import ChatMessage
from robots.chats import robot_chat
from robots.context import RunContext
from robots.registry import KindSettings, RobotKind, register


class SendChatMessageSettings(KindSettings):
    chat: str = Field(min_length=1, description=N_("Chat id, e.g. {{ robots.chat.chat_id }}"))
    text: str = Field(min_length=1, description=N_("Message"))
    message_type: Literal["general", "notification", "important"] = "general"
    sender_id: int | None = Field(default=None, description=N_("Sender (default: the Butler)"))


@register
class SendChatMessage(RobotKind):
    """Post a message into a group chat a robot created."""

    kind = "send_chat_message"
    title = N_("Send a chat message")
    category = "communication"
    Settings = SendChatMessageSettings
    outputs = ("message_id",)
    templates = {"chat": "text", "text": "text"}
    output_types = {"message_id": "chat_message"}
    setting_types = {"chat": "chat"}

    def run(self, ctx: RunContext, settings: SendChatMessageSettings) -> dict[str, Any]:
        """One message per run (chat_messages.run_id is unique)."""
        chat = robot_chat(ctx, ctx.render(settings.chat))
        sender = ctx.user(settings.sender_id, default="system")
        message = ChatMessage(chat_id=chat.id, sender_id=sender.id, run_id=ctx.run_id,
                              text=ctx.render(settings.text), message_type=settings.message_type,
                              created_at=ctx.now)
        ctx.session.add(message)
        ctx.session.flush()
        return {"message_id": message.id}
