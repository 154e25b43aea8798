"""update_activity: change an activity — the event's, or one given by a template — and/or mark it done."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kanban.i18n import N_
from kanban.services.activities import update_activity
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register
from robots.subjects import target_activity


class UpdateActivitySettings(KindSettings):
    activity: str = Field(default="", max_length=200, description=N_(
        "Activity id, e.g. {{ robots.call.activity_id }} (empty: the event's activity)"))
    fields: dict[Literal["type", "subject", "due_date", "due_time", "note"], str] = Field(
        default_factory=dict, description=N_("Activity field → template (due_date YYYY-MM-DD, due_time HH:MM)"))
    mark: Literal["unchanged", "done", "open"] = Field(default="unchanged",
                                                       description=N_("Mark it done, or open again"))

    @model_validator(mode="after")
    def _something(self) -> UpdateActivitySettings:
        if not self.fields and self.mark == "unchanged":
            raise ValueError("give fields to change, or mark it done or open")
        return self


@register
class UpdateActivity(RobotKind):
    """Change an activity (activity.updated / activity.completed are recorded)."""

    kind = "update_activity"
    title = N_("Update an activity")
    category = "deal"
    Settings = UpdateActivitySettings
    outputs = ("activity_id",)
    templates = {"activity": "text", "fields.*": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: UpdateActivitySettings) -> dict[str, Any]:
        """Render each field (empty due_time / note clear them); a refused value fails the run for good."""
        activity = target_activity(ctx, settings.activity)
        changes: dict[str, Any] = {name: ctx.render(template).strip() for name, template in settings.fields.items()}
        for name in ("due_time", "note"):
            if name in changes and not changes[name]:
                changes[name] = None
        if settings.mark != "unchanged":
            changes["done"] = settings.mark == "done"
        with core_refusals():
            update_activity(ctx.session, activity.id, changes, actor=ctx.actor, cause=ctx.next_cause())
        return {"activity_id": activity.id}
