"""notify_supervisor: a notification to the head of the responsible's department ("control")."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import User
from kanban.notifications import deliver_notification
from robots.context import RunContext
from robots.errors import PermanentError
from robots.outside import service
from robots.registry import KindSettings, RobotKind, register


class NotifySupervisorSettings(KindSettings):
    text: str = Field(min_length=1, description=N_("Notification text"))


@register
class NotifySupervisor(RobotKind):
    """Notify the department head of the deal's responsible."""

    kind = "notify_supervisor"
    title = N_("Notify the supervisor")
    category = "notify"
    Settings = NotifySupervisorSettings
    outputs = ("notification_id",)
    templates = {"text": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: NotifySupervisorSettings) -> dict[str, Any]:
        """Resolve the responsible's department head and notify them by the channels they chose."""
        responsible_id = ctx.responsible_id()
        if responsible_id is None:
            raise PermanentError(_("the deal has no responsible, so there is no supervisor to notify"))
        head = ctx.supervisor_of(ctx.session.get(User, responsible_id))
        if head is None or not head.active:
            raise PermanentError(_("the responsible's department has no (active) head"))
        sent = deliver_notification(ctx.session, ctx.settings, service(ctx, "mailer"), user=head, kind="supervisor",
                                    text=ctx.render(settings.text), at=ctx.now, deal_id=ctx.deal_id,
                                    run_id=ctx.run_id, sender=ctx.system_user())
        return {"notification_id": sent.notification_id}
