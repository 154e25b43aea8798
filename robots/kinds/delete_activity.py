"""delete_activity: delete an activity — the event's, or one given by a template (e.g. an earlier action's)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.services.activities import delete_activity
from robots.context import RunContext
from robots.registry import KindSettings, RobotKind, register
from robots.subjects import target_activity


class DeleteActivitySettings(KindSettings):
    activity: str = Field(default="", max_length=200, description=N_(
        "Activity id, e.g. {{ robots.call.activity_id }} (empty: the event's activity)"))


@register
class DeleteActivity(RobotKind):
    """Delete an activity (activity.deleted is recorded; its deal's timeline says so)."""

    kind = "delete_activity"
    title = N_("Delete an activity")
    category = "deal"
    Settings = DeleteActivitySettings
    outputs = ("activity_id",)
    templates = {"activity": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: DeleteActivitySettings) -> dict[str, Any]:
        """Resolve the activity, then delete it as this robot (the cause chain goes on)."""
        activity = target_activity(ctx, settings.activity)
        activity_id = activity.id
        delete_activity(ctx.session, activity_id, actor=ctx.actor, cause=ctx.next_cause())
        return {"activity_id": activity_id}
