"""delete_person: delete the person an automation acts on (the deal's, or the event's person)."""

from __future__ import annotations

from typing import Any

from kanban.i18n import N_, _
from kanban.services.persons import delete_person
from robots.context import RunContext
from robots.errors import PermanentError
from robots.registry import KindSettings, RobotKind, register


class DeletePersonSettings(KindSettings):
    pass


@register
class DeletePerson(RobotKind):
    """Delete the person (their deals stay, without a person; person.deleted is recorded)."""

    kind = "delete_person"
    title = N_("Delete the person")
    category = "deal"
    Settings = DeletePersonSettings
    outputs = ("person_id", "name")
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: DeletePersonSettings) -> dict[str, Any]:
        """The deal's person, or the event's; none is a permanent failure."""
        person_id = ctx.person_id()
        if person_id is None:
            raise PermanentError(_("there is no person to delete") if ctx.deal_id is None
                                 else _("the deal has no person"))
        name = (ctx.values.get("person") or {}).get("name") or ""
        delete_person(ctx.session, person_id, actor=ctx.actor, cause=ctx.next_cause())
        return {"person_id": person_id, "name": name}
