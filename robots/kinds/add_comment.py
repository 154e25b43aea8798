"""add_comment: a comment on the deal's timeline, written as a chosen user (default: the responsible)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.models import TimelineEntry
from robots.context import RunContext
from robots.registry import KindSettings, RobotKind, register


class AddCommentSettings(KindSettings):
    text: str = Field(min_length=1, description=N_("Comment text"))
    author_id: int | None = Field(default=None, description=N_("Author (default: the deal's responsible)"))


@register
class AddComment(RobotKind):
    """Add a comment to the deal's timeline."""

    kind = "add_comment"
    title = N_("Add a comment")
    category = "deal"
    Settings = AddCommentSettings
    outputs = ("comment_id",)
    templates = {"text": "text"}

    def run(self, ctx: RunContext, settings: AddCommentSettings) -> dict[str, Any]:
        """One timeline comment, unique per run (timeline_entries.run_id)."""
        author = ctx.user(settings.author_id)
        comment_id = ctx.insert(TimelineEntry, deal_id=ctx.deal_id, kind="comment", at=ctx.now, actor_type="user",
                                actor_id=author.id, text=ctx.render(settings.text), run_id=ctx.run_id,
                                data={"robot_id": ctx.robot_id, "robot_key": ctx.robot_key,
                                      "author_id": author.id, "author_name": author.name})
        return {"comment_id": comment_id}
