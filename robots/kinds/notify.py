"""notify: a notification to users, roles, departments or the responsible, by the channels each recipient chose."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.notifications import deliver_notification
from robots.context import RunContext
from robots.outside import service
from robots.recipients import Recipients, resolve
from robots.registry import KindSettings, RobotKind, register


class NotifySettings(KindSettings):
    text: str = Field(min_length=1, description=N_("Notification text"))
    recipients: Recipients
    sender_id: int | None = Field(default=None, description=N_("Shown as the sender (default: the Butler)"))


@register
class Notify(RobotKind):
    """Notify the chosen people: in the app, by email (at once or in a digest) and/or by browser push."""

    kind = "notify"
    title = N_("Notify")
    category = "notify"
    Settings = NotifySettings
    outputs = ("notification_ids",)
    templates = {"text": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: NotifySettings) -> dict[str, Any]:
        """Rows per resolved recipient and chosen channel, each keyed by (run, user); outputs the in-app ones."""
        sender = ctx.user(settings.sender_id, default="system")
        text = ctx.render(settings.text)
        mailer = service(ctx, "mailer")
        sent = [deliver_notification(ctx.session, ctx.settings, mailer, user=user, kind="robot", text=text,
                                     at=ctx.now, deal_id=ctx.deal_id, run_id=ctx.run_id, sender=sender)
                for user in resolve(ctx, settings.recipients)]
        return {"notification_ids": [d.notification_id for d in sent if d.notification_id is not None]}
