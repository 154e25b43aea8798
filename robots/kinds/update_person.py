"""update_person: set fields of the deal's person (name, email, phone, language) from templates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kanban.errors import ConflictError, ValidationError
from kanban.i18n import N_, _
from kanban.services.persons import update_person
from robots.context import RunContext
from robots.errors import PermanentError
from robots.registry import KindSettings, RobotKind, register


class UpdatePersonSettings(KindSettings):
    fields: dict[Literal["name", "email", "phone", "language"], str] = Field(
        min_length=1, description=N_("Person field → template"))


@register
class UpdatePerson(RobotKind):
    """Change the deal's person (person.updated is recorded)."""

    kind = "update_person"
    title = N_("Update the person")
    category = "deal"
    Settings = UpdatePersonSettings
    outputs = ("person_id",)
    templates = {"fields.*": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: UpdatePersonSettings) -> dict[str, Any]:
        """Render each field; an email another person has is a permanent failure, not a retry."""
        person_id = ctx.person_id()
        if person_id is None:
            raise PermanentError(_("the deal has no person") if ctx.deal_id is not None
                                 else _("the event has no person"))
        changes = {name: ctx.render(template).strip() or None for name, template in settings.fields.items()}
        try:
            update_person(ctx.session, person_id, changes, actor=ctx.actor, cause=ctx.next_cause())
        except ValidationError as exc:
            raise PermanentError(_("%(message)s: %(fields)s", message=exc.message, fields=exc.fields)) from exc
        except ConflictError as exc:  # a duplicate email: trying again cannot help
            raise PermanentError(_("%(message)s (person %(get)s)",
                                    message=exc.message, get=exc.extra.get('existing_id'))) from exc
        return {"person_id": person_id}
