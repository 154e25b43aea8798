"""The deal's people: its `contact` object (validated, mapped onto a person) and its person / organization links."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Organization, Person
from kanban.services import persons


def contact_values(data: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    """Validate the deal's `contact` object (it maps onto a person); None when absent."""
    if data is None:
        return None
    if not isinstance(data, dict):
        errors["contact"] = _("contact must be an object with name, email, phone")
        return None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["contact.name"] = _("contact name is required")
        return None
    if len(name.strip()) > 200:
        errors["contact.name"] = _("contact name is at most 200 characters")
    company = data.get("company") or None
    if company is not None and (not isinstance(company, str) or len(company) > 200):
        errors["contact.company"] = _("company is text of at most 200 characters")
    email = data.get("email") or None
    if email is not None and (not isinstance(email, str) or "@" not in email or len(email) > 320):
        errors["contact.email"] = _("not a valid email address")
    phone = data.get("phone") or None
    if phone is not None and (not isinstance(phone, str) or len(phone) > 40):
        errors["contact.phone"] = _("not a valid phone number")
    return {"name": name.strip(), "email": email, "phone": phone, "company": company}


def check_links(session: Session, values: dict[str, Any], errors: dict[str, str]) -> None:
    """person_id / organization_id must name existing records."""
    for name, model in (("person_id", Person), ("organization_id", Organization)):
        ref = values.get(name)
        if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool) or session.get(model, ref) is None):
            errors[name] = _("unknown %(removesuffix)s", removesuffix=name.removesuffix('_id'))


def person_for_contact(session: Session, values: dict[str, Any], current: Person | None,
                        actor: Actor) -> Person:
    """The person a `contact` object means: an existing one by email, the deal's own (updated), or a new one."""
    org_id = persons.organization_named(session, values["company"], actor=actor).id if values["company"] else None
    fields = {"name": values["name"], "email": values["email"], "phone": values["phone"]}
    if org_id is not None:
        fields["organization_id"] = org_id
    known = persons.person_by_email(session, values["email"])
    if known is not None and (current is None or known.id != current.id):
        return known
    if current is not None:
        return persons.update_person(session, current.id, fields, actor=actor)
    return persons.create_person(session, fields, actor=actor)


def apply_contact(session: Session, deal: Deal, new: dict[str, Any] | None,
                  actor: Actor) -> dict[str, tuple[Any, Any]]:
    """Point the deal at the person its new `contact` means (None unlinks); the change for the timeline."""
    old = session.get(Person, deal.person_id) if deal.person_id else None
    old_view = contact_view(old)
    if new is None:
        deal.person_id = None
        return {"contact": (old_view, None)} if old else {}
    person = person_for_contact(session, new, old, actor)
    deal.person_id = person.id
    if person.organization_id is not None:
        deal.organization_id = person.organization_id
    return {"contact": (old_view, contact_view(person))} if old_view != contact_view(person) else {}


def contact_view(person: Person | None) -> dict[str, Any] | None:
    """The deal's person as the API's `contact` object."""
    if person is None:
        return None
    return {"id": person.id, "name": person.name, "email": person.email, "phone": person.phone}
