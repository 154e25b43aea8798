"""update_organization: set fields of the organization an automation acts on (the deal's, its person's, or the
event's) from templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.i18n import N_, _
from kanban.services.persons import update_organization
from robots.context import RunContext
from robots.errors import PermanentError, core_refusals
from robots.registry import KindSettings, RobotKind, register


class UpdateOrganizationSettings(KindSettings):
    fields: dict[Literal["name", "address"], str] = Field(min_length=1, description=N_("Organization field → template"))


@register
class UpdateOrganizationKind(RobotKind):
    """Change the organization (organization.updated is recorded)."""

    kind = "update_organization"
    title = N_("Update the organization")
    category = "deal"
    Settings = UpdateOrganizationSettings
    outputs = ("organization_id",)
    templates = {"fields.*": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: UpdateOrganizationSettings) -> dict[str, Any]:
        """Render each field (an empty address clears it; an empty name is refused)."""
        org_id = ctx.organization_id()
        if org_id is None:
            raise PermanentError(_("there is no organization to update"))
        changes = {name: ctx.render(template).strip() or None for name, template in settings.fields.items()}
        with core_refusals():
            update_organization(ctx.session, org_id, changes, actor=ctx.actor, cause=ctx.next_cause())
        return {"organization_id": org_id}
