"""Plain template/condition values for a deal at run time, and the list of placeholders robots may use."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kanban.i18n import N_, _
from kanban.models import Deal, Organization, Person, Stage, User
from kanban.queries import next_activities
from robots.errors import PermanentError
from robots.templating import plain

# ISO 4217 currencies whose minor unit is not 1/100.
_EXPONENTS = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
              "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
              "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}

KNOWN_PLACEHOLDERS: list[tuple[str, str]] = [
    ("deal.id", N_("Deal number")),
    ("deal.title", N_("Deal title")),
    ("deal.amount", N_("Amount in major units, e.g. 1250.00")),
    ("deal.amount_minor", N_("Amount in minor units (cents), e.g. 125000")),
    ("deal.currency", N_("Currency code, e.g. EUR")),
    ("deal.tags", N_("List of tags (use |join(', '))")),
    ("deal.url", N_("Link to the deal page")),
    ("deal.created_at", N_("When the deal was created (ISO 8601, UTC)")),
    ("deal.stage_entered_at", N_("When the deal entered its current stage (ISO 8601, UTC)")),
    ("deal.fields.<name>", N_("A custom field of the deal")),
    ("contact.name", N_("Contact name (the deal's person)")),
    ("contact.email", N_("Contact email")),
    ("contact.phone", N_("Contact phone")),
    ("contact.company", N_("Contact company (the person's organization)")),
    ("person.id", N_("The deal's person: id")),
    ("person.name", N_("The deal's person: name")),
    ("person.email", N_("The deal's person: email")),
    ("person.phone", N_("The deal's person: phone")),
    ("organization.id", N_("The deal's organization: id")),
    ("organization.name", N_("The deal's organization: name")),
    ("organization.address", N_("The deal's organization: address")),
    ("next_activity.id", N_("The deal's next open activity: id")),
    ("next_activity.type", N_("Next activity: call, meeting, task, email or deadline")),
    ("next_activity.subject", N_("Next activity: subject")),
    ("next_activity.due_at", N_("Next activity: when it is due (ISO 8601)")),
    ("next_activity.state", N_("Next activity: overdue, today or upcoming")),
    ("responsible.id", N_("Responsible user's id")),
    ("responsible.name", N_("Responsible user's name")),
    ("responsible.email", N_("Responsible user's email")),
    ("responsible.phone", N_("Responsible user's phone")),
    ("stage.id", N_("Current stage id")),
    ("stage.name", N_("Current stage name")),
    ("robots.<key>.<output>", N_("An output of an earlier robot of this stage (run after the previous one)")),
    ("event.type", N_("Automations: the event, e.g. deal.updated")),
    ("event.changed", N_("Automations: list of the fields the event changed")),
    ("event.old.<field>", N_("Automations: a field's value before the event")),
    ("event.new.<field>", N_("Automations: a field's value after the event")),
    ("event.actor_id", N_("Automations: id of the user (or robot) who caused the event")),
    ("event.actor_type", N_("Automations: user, robot, trigger or system")),
    ("event.to", N_("Automations: the new stage id, status or responsible of the event")),
    ("event.entity_type", N_("Automations: what the event is about: deal, activity, person, organization or email")),
    ("event.entity_id", N_("Automations: the id of that record (e.g. the activity of an activity.* event)")),
    ("subject.type", N_("Automations without a deal: deal (deleted: see deal.*), person or organization")),
    ("subject.id", N_("Automations without a deal: the id of the deleted deal, person or organization")),
    ("deal.deleted", N_("Automations on deal.deleted: true (deal.* are the deleted deal's last values)")),
]
_STATIC = {name for name, _ in KNOWN_PLACEHOLDERS if "<" not in name}
_ROOTS = {"deal", "contact", "person", "organization", "next_activity", "responsible", "stage", "event", "subject"}
_EVENT_MAPS = ("event.old.", "event.new.", "event.data.")
_ROBOT_REF = re.compile(r"^robots\.([a-z0-9_]+)\.([A-Za-z0-9_]+)$")


def is_known_placeholder(name: str) -> bool:
    """True for a static placeholder, a whole root object, or deal.fields.<name> (robot outputs: see robot_ref)."""
    if name in _STATIC or name in _ROOTS or name == "deal.fields":
        return True
    if any(name.startswith(prefix) and len(name) > len(prefix) for prefix in _EVENT_MAPS):
        return True  # event.* values are empty for stage robots, which have no event
    return name.startswith("deal.fields.") and len(name) > len("deal.fields.")


def robot_ref(name: str) -> tuple[str, str] | None:
    """(key, output) when name is robots.<key>.<output>, else None."""
    match = _ROBOT_REF.match(name)
    return (match.group(1), match.group(2)) if match else None


def format_amount(amount_minor: int, currency: str) -> str:
    """Minor units as a decimal string in the currency's major unit: 125000 USD -> "1250.00"."""
    exponent = _EXPONENTS.get((currency or "").upper(), 2)
    value = Decimal(int(amount_minor)).scaleb(-exponent)
    return f"{value:.{exponent}f}"


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(user: User | None) -> dict[str, Any]:
    if user is None:
        return {"id": None, "name": "", "email": "", "phone": ""}
    return {"id": user.id, "name": user.name, "email": user.email or "", "phone": user.phone or ""}


def _contact(person: Person | None, organization: Organization | None) -> dict[str, Any]:
    if person is None:
        return {"name": "", "email": "", "phone": "", "company": ""}
    return {"name": person.name, "email": person.email or "", "phone": person.phone or "",
            "company": organization.name if organization else ""}


def _person_values(person: Person | None) -> dict[str, Any]:
    if person is None:
        return {"id": None, "name": "", "email": "", "phone": ""}
    return {"id": person.id, "name": person.name, "email": person.email or "", "phone": person.phone or ""}


def _organization_values(org: Organization | None) -> dict[str, Any]:
    if org is None:
        return {"id": None, "name": "", "address": ""}
    return {"id": org.id, "name": org.name, "address": org.address or ""}


def record_values(session: Session, deal: Deal, person: Person | None, *, with_next_activity: bool = True
                  ) -> dict[str, Any]:
    """contact, person, organization and (when asked: one query) next_activity values of a deal."""
    org_id = deal.organization_id or (person.organization_id if person else None)
    org = session.get(Organization, org_id) if org_id else None
    nxt = next_activities(session, [deal.id]).get(deal.id) if with_next_activity else None
    return {"contact": _contact(person, org), "person": _person_values(person),
            "organization": _organization_values(org),
            "next_activity": plain(nxt) if nxt else {"id": None, "type": "", "subject": "", "due_at": "",
                                                     "state": ""}}


def deal_values(deal: Deal, public_url: str = "") -> dict[str, Any]:
    """The `deal` part of the template values."""
    return {
        "id": deal.id,
        "title": deal.title,
        "amount": format_amount(deal.amount, deal.currency),
        "amount_minor": deal.amount,
        "currency": deal.currency,
        "tags": list(deal.tags or []),
        "url": f"{public_url.rstrip('/')}/deals/{deal.id}" if public_url else f"/deals/{deal.id}",
        "created_at": _iso(deal.created_at),
        "stage_entered_at": _iso(deal.stage_entered_at),
        "fields": plain(dict(deal.fields or {})),
    }


def template_values(session: Session, deal_id: int, stage_id: int, outputs_by_key: dict[str, dict[str, Any]],
                    *, public_url: str = "") -> dict[str, Any]:
    """Plain values for templates and conditions: deal, contact, responsible, stage, robots.<key>.<output>."""
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise PermanentError(_("deal %(deal_id)s no longer exists", deal_id=deal_id))
    person = session.get(Person, deal.person_id) if deal.person_id else None
    responsible = session.get(User, deal.responsible_id) if deal.responsible_id else None
    stage = session.get(Stage, stage_id)
    return values_of(deal, record_values(session, deal, person), responsible, stage_id, stage.name if stage else "",
                     outputs_by_key, public_url=public_url)


def values_of(deal: Deal, records: dict[str, Any], responsible: User | None, stage_id: int, stage_name: str,
              outputs_by_key: dict[str, dict[str, Any]], *, public_url: str = "") -> dict[str, Any]:
    """template_values from rows the caller already holds; `records` comes from record_values."""
    return {
        "deal": deal_values(deal, public_url),
        **records,
        "responsible": _person(responsible),
        "stage": {"id": stage_id, "name": stage_name or ""},
        "robots": plain({key: dict(outputs or {}) for key, outputs in outputs_by_key.items()}),
    }


def lookup(values: dict[str, Any], name: str) -> Any:
    """The value at a dotted name (None when any part is missing)."""
    current: Any = values
    for part in name.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return None
    return current
