"""get_requisites: read the requisites of the deal's organization or person for later robots."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_, _
from kanban.services.requisites import deal_owner, find_requisite, flat_values
from robots.context import RunContext
from robots.errors import PermanentError
from robots.registry import KindSettings, RobotKind, register


class GetRequisitesSettings(KindSettings):
    entity: Literal["organization", "person"] = Field(default="organization", description=N_("Whose requisites"))
    template: Literal["fr_company", "it_company", "generic_company", "person"] | None = Field(
        default=None, description=N_("Template (default: the most recently changed)"))
    address_type: Literal["legal", "business", "delivery"] | None = Field(
        default=None, description=N_("Address to read (default: legal, then business, then delivery)"))


@register
class GetRequisites(RobotKind):
    """Bitrix24's "Get detailed values": e.g. `{{ robots.<key>.address }}` for the courier."""

    kind = "get_requisites"
    title = N_("Get requisite values")
    category = "payments"
    Settings = GetRequisitesSettings
    outputs = ("address", "vat_number", "company_name", "iban")

    def run(self, ctx: RunContext, settings: GetRequisitesSettings) -> dict[str, Any]:
        """The values present; a missing organization, person or requisite fails the run with the reason."""
        owner = deal_owner(ctx.session, ctx.deal(), settings.entity)
        if owner is None:
            raise PermanentError(_("the deal has no %(entity)s", entity=settings.entity))
        row = find_requisite(ctx.session, *owner, settings.template)
        if row is None:
            which = f"{settings.template} " if settings.template else ""
            raise PermanentError(_("the deal's %(entity)s has no %(which)srequisites",
                                    entity=settings.entity, which=which))
        values = flat_values(row, settings.address_type)
        if settings.address_type and not row.addresses.get(settings.address_type):
            raise PermanentError(_("the %(entity)s's requisites have no %(address_type)s address",
                                    entity=settings.entity, address_type=settings.address_type))
        return values
