"""delete_deal: delete the deal an automation acts on (Pipedrive's "Delete deal"); deal.deleted is recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from kanban.i18n import N_, _
from kanban.services.deals import delete_deal
from robots.context import RunContext
from robots.errors import PermanentError, core_refusals
from robots.models import AutomationExecution, RobotRun
from robots.registry import KindSettings, RobotKind, register


class DeleteDealSettings(KindSettings):
    pass


@register
class DeleteDeal(RobotKind):
    """Delete the deal. Automations only: the execution and its runs are kept (detached from the deal), and the
    actions below it run on the deleted deal (its title and id are this action's outputs)."""

    kind = "delete_deal"
    title = N_("Delete the deal")
    category = "deal"
    Settings = DeleteDealSettings
    outputs = ("deal_id", "title")

    def run(self, ctx: RunContext, settings: DeleteDealSettings) -> dict[str, Any]:
        """Detach this execution's runs from the deal (its history survives), then delete it as this robot."""
        if ctx.execution_id is None:
            raise PermanentError(_("a stage's robot cannot delete its own deal (its run log would go with it): "
                                   "use an automation"))
        deal = ctx.deal()
        outputs = {"deal_id": deal.id, "title": deal.title}
        ctx.session.execute(update(RobotRun).where(RobotRun.execution_id == ctx.execution_id)
                            .values(deal_id=None, stage_id=None).execution_options(synchronize_session=False))
        ctx.session.execute(update(AutomationExecution).where(AutomationExecution.id == ctx.execution_id)
                            .values(deal_id=None).execution_options(synchronize_session=False))
        with core_refusals():
            delete_deal(ctx.session, deal.id, actor=ctx.actor, cause=ctx.next_cause())
        return outputs
