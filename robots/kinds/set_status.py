"""set_status: mark the deal won, lost (with a reason) or open again."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_
from kanban.services.outcomes import set_status
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register


class SetStatusSettings(KindSettings):
    status: Literal["won", "lost", "open"]
    reason: str | None = Field(default=None, description=N_("Lost reason (text)"))


@register
class SetStatus(RobotKind):
    """Change the deal's status; it keeps its stage."""

    kind = "set_status"
    title = N_("Set won / lost / open")
    category = "deal"
    Settings = SetStatusSettings
    outputs = ("status",)
    templates = {"reason": "text"}

    def run(self, ctx: RunContext, settings: SetStatusSettings) -> dict[str, Any]:
        """Through the outcomes service: a pipeline that requires a lost reason refuses an empty one."""
        reason = ctx.render(settings.reason).strip() or None if settings.reason else None
        with core_refusals():
            deal = set_status(ctx.session, ctx.deal_id, settings.status, actor=ctx.actor, reason=reason,
                              cause=ctx.next_cause())
        return {"status": deal.status}
