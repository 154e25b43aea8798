"""send_private_message: a direct message from the sender to each recipient, in their private chat."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import ChatMessage
from robots.chats import private_chat
from robots.context import RunContext
from robots.errors import PermanentError
from robots.recipients import Recipients, resolve
from robots.registry import KindSettings, RobotKind, register


class SendPrivateMessageSettings(KindSettings):
    to: Recipients
    text: str = Field(min_length=1, description=N_("Message"))
    message_type: Literal["general", "notification", "important"] = "general"
    sender_id: int | None = Field(default=None, description=N_("Sender (default: the deal's responsible)"))


@register
class SendPrivateMessage(RobotKind):
    """Send a private message; the private chat is created on first use."""

    kind = "send_private_message"
    title = N_("Send a private message")
    category = "communication"
    Settings = SendPrivateMessageSettings
    outputs = ("message_id", "message_ids")
    templates = {"text": "text"}
    output_types = {"message_id": "chat_message"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: SendPrivateMessageSettings) -> dict[str, Any]:
        """One message per recipient (the sender is skipped); the first carries the run id."""
        sender = ctx.user(settings.sender_id)
        recipients = [u for u in resolve(ctx, settings.to) if u.id != sender.id]
        if not recipients:
            raise PermanentError(_("the only recipient is the sender"))
        text = ctx.render(settings.text)
        messages = []
        for index, user in enumerate(recipients):
            chat = private_chat(ctx, sender, user)
            messages.append(ChatMessage(chat_id=chat.id, sender_id=sender.id, text=text, created_at=ctx.now,
                                        message_type=settings.message_type,
                                        run_id=ctx.run_id if index == 0 else None))
        ctx.session.add_all(messages)
        ctx.session.flush()
        return {"message_id": messages[0].id, "message_ids": [m.id for m in messages]}
