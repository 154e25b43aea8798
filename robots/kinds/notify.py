"""notify: an in-app notification to users, roles, departments or the responsible, from a chosen sender."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.models import Notification
from robots.context import RunContext
from robots.recipients import Recipients, resolve
from robots.registry import KindSettings, RobotKind, register


class NotifySettings(KindSettings):
    text: str = Field(min_length=1, description="Notification text")
    recipients: Recipients
    sender_id: int | None = Field(default=None, description="Shown as the sender (default: the Butler)")


@register
class Notify(RobotKind):
    """Send an in-app notification to the chosen people."""

    kind = "notify"
    title = "Notify"
    category = "notify"
    Settings = NotifySettings
    outputs = ("notification_ids",)
    templates = {"text": "text"}

    def run(self, ctx: RunContext, settings: NotifySettings) -> dict[str, Any]:
        """One notification row per resolved recipient, keyed by (run, user)."""
        sender = ctx.user(settings.sender_id, default="system")
        text = ctx.render(settings.text)
        rows = [Notification(user_id=user.id, sender_id=sender.id, deal_id=ctx.deal_id, run_id=ctx.run_id,
                             text=text, created_at=ctx.now)
                for user in resolve(ctx, settings.recipients)]
        ctx.session.add_all(rows)
        ctx.session.flush()
        return {"notification_ids": [row.id for row in rows]}
