"""add_tag: add tags to the deal (existing tags are kept)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register


class AddTagSettings(KindSettings):
    tags: list[str] = Field(min_length=1, description=N_("Tags to add (each may use placeholders)"))


@register
class AddTag(RobotKind):
    """Add tags to the deal."""

    kind = "add_tag"
    title = N_("Add tags")
    category = "deal"
    Settings = AddTagSettings
    outputs = ("tags",)
    templates = {"tags": "text"}

    def run(self, ctx: RunContext, settings: AddTagSettings) -> dict[str, Any]:
        """Merge the rendered tags into the deal's tags as this robot."""
        current = list(ctx.deal().tags or [])
        wanted = [" ".join(ctx.render(tag).split()) for tag in settings.tags]
        merged = current + [tag for tag in wanted if tag and tag not in current]
        if merged != current:
            with core_refusals():
                ctx.update_deal({"tags": merged})
        return {"tags": merged}
