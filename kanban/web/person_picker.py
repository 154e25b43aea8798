"""The deal page's person field: keep, clear, pick an existing person (search) or create one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kanban.errors import ConflictError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Organization, Person
from kanban.services import persons
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import text
from kanban.web.templating import render

NEW = "new"
NEW_FIELDS = ("new_name", "new_email", "new_phone", "new_company")
RESULTS = 8


def person_label(session: Session, person_id: int | str | None) -> str:
    """A person's name with their organization, for the read view ("Alice Moreau · Acme")."""
    person = session.get(Person, int(person_id)) if str(person_id or "").isdigit() else None
    if person is None:
        return ""
    org = session.get(Organization, person.organization_id) if person.organization_id else None
    return f"{person.name} · {org.name}" if org else person.name


def search(session: Session, q: str) -> list[Person]:
    """The first persons whose name or email matches (the picker's choices)."""
    if not q:
        return []
    stmt = persons.search_persons(session, q).order_by(func.lower(Person.name), Person.id).limit(RESULTS)
    return list(session.scalars(stmt))


def submitted(form: Any) -> dict[str, str]:
    """The person field's submitted values: person_id ('' none, 'new', or an id) and the new person's fields."""
    return {name: text(form, name) for name in ("person_id", *NEW_FIELDS)}


def _create(session: Session, values: dict[str, str], actor: Actor, errors: dict[str, str]) -> int | None:
    fields: dict[str, Any] = {"name": values["new_name"], "email": values["new_email"] or None,
                              "phone": values["new_phone"] or None}
    try:
        if values["new_company"]:
            fields["organization_id"] = persons.organization_named(session, values["new_company"], actor=actor).id
        return persons.create_person(session, fields, actor=actor).id
    except ConflictError as exc:
        existing = session.get(Person, exc.extra.get("existing_id"))
        errors["new_email"] = _("already used by %(existing)s: search and pick them",
                                 existing=existing.name if existing else _('another person'))
    except ValidationError as exc:
        errors.update({f"new_{k}": v for k, v in exc.fields.items()})
    return None


def changes(session: Session, deal: Deal, values: dict[str, str], actor: Actor,
            errors: dict[str, str]) -> dict[str, Any]:
    """The update_deal changes the person field asks for (creating the new person first)."""
    choice = values["person_id"]
    if choice == NEW:
        person_id = _create(session, values, actor, errors)
    elif choice.isdigit():
        person_id = int(choice)
    elif choice:
        errors["person_id"] = _("choose a person from the list")
        return {}
    else:
        person_id = None
    if person_id == deal.person_id or "person_id" in errors or "new_email" in errors or "new_name" in errors:
        return {}
    out: dict[str, Any] = {"person_id": person_id}
    person = session.get(Person, person_id) if person_id else None
    if person is not None and person.organization_id:
        out["organization_id"] = person.organization_id  # the deal follows its person's organization
    return out


@access("authenticated")
async def picker(request: Request) -> Response:
    """GET /persons/picker?q=&current= — the picker's choices for a search (htmx fragment)."""
    q = text(request.query_params, "q")[:200]
    current = text(request.query_params, "current")

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return {"found": search(session, q), "person_q": q, "current_id": current}

    return render(request, "partials/person_choices.html", await in_tx(request, load))


routes = [Route("/persons/picker", picker, methods=["GET"])]
