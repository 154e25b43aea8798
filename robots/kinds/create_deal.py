"""create_deal: open a follow-up deal, e.g. in another pipeline (Pipedrive's "create deal" action)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.services.deals import create_deal
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register


class CreateDealSettings(KindSettings):
    pipeline_id: int = Field(description=N_("Pipeline of the new deal"))
    stage_id: int | None = Field(default=None, description=N_("Its stage (default: the pipeline's first)"))
    title: str = Field(min_length=1, max_length=300, description=N_("Title of the new deal (placeholders allowed)"))
    fields: dict[str, str] = Field(default_factory=dict, description=N_("Custom fields of the new deal → template"))


@register
class CreateDeal(RobotKind):
    """Create a new deal with this deal's responsible, person and organization; its stage's robots and automations
    run."""

    kind = "create_deal"
    title = N_("Create a deal")
    category = "deal"
    Settings = CreateDealSettings
    outputs = ("deal_id",)
    templates = {"title": "text", "fields.*": "text"}

    def run(self, ctx: RunContext, settings: CreateDealSettings) -> dict[str, Any]:
        """Create the deal through the core service, carrying this run in its cause chain."""
        source = ctx.deal()
        with core_refusals():
            deal = create_deal(
                ctx.session, title=ctx.render(settings.title).strip()[:300], pipeline_id=settings.pipeline_id,
                stage_id=settings.stage_id, actor=ctx.actor, currency=source.currency,
                responsible_id=source.responsible_id, person_id=source.person_id,
                organization_id=source.organization_id,
                fields={name: ctx.render(text) for name, text in settings.fields.items()}, cause=ctx.next_cause(),
            )
        return {"deal_id": deal.id}
