"""create_organization: add an organization and (optionally) link it to the deal and its person."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_
from kanban.models import Person
from kanban.services.deals import update_deal
from kanban.services.persons import create_organization, update_person
from robots.context import RunContext
from robots.errors import core_refusals
from robots.registry import KindSettings, RobotKind, register


class CreateOrganizationSettings(KindSettings):
    name: str = Field(min_length=1, max_length=400, description=N_("Name, e.g. {{ contact.company }}"))
    address: str | None = Field(default=None, max_length=1000, description=N_("Address"))
    link: bool = Field(default=True, description=N_("Link it to the deal, and to the person when they have none"))


@register
class CreateOrganizationKind(RobotKind):
    """Create an organization (organization.created is recorded)."""

    kind = "create_organization"
    title = N_("Create an organization")
    category = "deal"
    Settings = CreateOrganizationSettings
    outputs = ("organization_id",)
    templates = {"name": "text", "address": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: CreateOrganizationSettings) -> dict[str, Any]:
        """Create it as this robot; linking changes the deal (deal.updated) and the person (person.updated)."""
        values = {"name": ctx.render(settings.name).strip()[:200],
                  "address": (ctx.render(settings.address).strip()[:500] or None) if settings.address else None}
        with core_refusals():
            org = create_organization(ctx.session, values, actor=ctx.actor, cause=ctx.next_cause())
            if settings.link:
                person_id = ctx.person_id()
                if ctx.deal_id is not None:
                    update_deal(ctx.session, ctx.deal_id, {"organization_id": org.id}, actor=ctx.actor,
                                cause=ctx.next_cause())
                person = ctx.session.get(Person, person_id) if person_id is not None else None
                if person is not None and person.organization_id is None:
                    update_person(ctx.session, person.id, {"organization_id": org.id}, actor=ctx.actor,
                                  cause=ctx.next_cause())
        return {"organization_id": org.id}
