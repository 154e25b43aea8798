"""modify_requisites: update the requisites of the deal's organization or person from templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kanban.i18n import N_, _
from kanban.services.requisites import ADDRESS_FIELDS, TEMPLATES, deal_owner, save_requisite
from robots.context import RunContext
from robots.errors import PermanentError, core_refusals
from robots.registry import KindSettings, RobotKind, register

BANK_FIELDS = ("iban", "bic")


class ModifyRequisitesSettings(KindSettings):
    entity: Literal["organization", "person"] = Field(default="organization", description=N_("Whose requisites"))
    template: Literal["fr_company", "it_company", "generic_company", "person"] = Field(description=N_("Template"))
    address_type: Literal["legal", "business", "delivery"] | None = Field(
        default=None, description=N_("Address the street, city, postal_code and country fields go to"))
    fields: dict[str, str] = Field(min_length=1, description=N_("Field name → template (identifiers are validated)"))

    @model_validator(mode="after")
    def _known_fields(self) -> ModifyRequisitesSettings:
        allowed = {*TEMPLATES[self.template], *BANK_FIELDS, *(ADDRESS_FIELDS if self.address_type else ())}
        unknown = sorted(set(self.fields) - allowed)
        if unknown:
            raise ValueError(f"not fields of {self.template}: {', '.join(unknown)} "
                             f"(allowed: {', '.join(sorted(allowed))})")
        return self


@register
class ModifyRequisites(RobotKind):
    """Bitrix24's "Modify details": VAT number, addresses and other legal details from constants or deal values."""

    kind = "modify_requisites"
    title = N_("Modify requisites")
    category = "payments"
    Settings = ModifyRequisitesSettings
    outputs = ("requisite_id", "changed")
    templates = {"fields.*": "text"}

    def run(self, ctx: RunContext, settings: ModifyRequisitesSettings) -> dict[str, Any]:
        """Render the values and merge them into the owner's requisite of that template (invalid ones fail)."""
        owner = deal_owner(ctx.session, ctx.deal(), settings.entity)
        if owner is None:
            raise PermanentError(_("the deal has no %(entity)s", entity=settings.entity))
        values = {name: ctx.render(text).strip() for name, text in settings.fields.items()}
        data: dict[str, Any] = {"template": settings.template,
                                "fields": {k: v for k, v in values.items() if k in TEMPLATES[settings.template]}}
        if settings.address_type:
            data["addresses"] = {settings.address_type: {k: v for k, v in values.items() if k in ADDRESS_FIELDS}}
        bank = {k: v for k, v in values.items() if k in BANK_FIELDS}
        if bank:
            data["bank"] = bank
        with core_refusals():
            row = save_requisite(ctx.session, *owner, data, merge=True)
        changed = sorted(settings.fields)
        ctx.timeline("requisites", f"Requisites ({settings.template}) of the {settings.entity} updated: "
                     f"{', '.join(changed)}", requisite_id=row.id)
        return {"requisite_id": row.id, "changed": changed}
