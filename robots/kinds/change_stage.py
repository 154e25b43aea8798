"""change_stage: move the deal to another stage of its pipeline; the rest of this stage's robots stop."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import Stage
from robots.context import RunContext
from robots.errors import LoopBlockedError, PermanentError, core_refusals
from robots.registry import KindSettings, RobotKind, register


class ChangeStageSettings(KindSettings):
    stage_id: int = Field(description=N_("Target stage (same pipeline)"))


@register
class ChangeStage(RobotKind):
    """Move the deal; the target stage's robots start, with this run in their cause chain."""

    kind = "change_stage"
    title = N_("Change stage")
    category = "deal"
    Settings = ChangeStageSettings
    outputs = ("moved",)

    def run(self, ctx: RunContext, settings: ChangeStageSettings) -> dict[str, Any]:
        """Move through the core service; a loop-guard refusal raises LoopBlockedError (run `blocked`)."""
        stage = ctx.session.get(Stage, settings.stage_id)
        if stage is None or stage.archived or stage.pipeline_id != ctx.deal().pipeline_id:
            raise PermanentError(_("stage %(stage_id)s is not a stage of this deal's pipeline",
                                    stage_id=settings.stage_id))
        with core_refusals(with_fields=False):
            result = ctx.move(stage.id)
        if result.blocked:
            raise LoopBlockedError(result.blocked)
        return {"moved": result.moved}
