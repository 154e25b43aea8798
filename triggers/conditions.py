"""Trigger conditions: the shared evaluator (kanban/conditions.py) over a deal's fields, contact, stage, owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kanban import conditions as core
from kanban.conditions import OPS, compare
from kanban.models import Deal, Organization, Person, Stage, User

__all__ = ["DEAL_FIELDS", "OPS", "OTHER_FIELDS", "compare", "deal_values", "evaluate", "field_name", "known_field",
           "lookup", "validate_condition"]

DEAL_FIELDS = ("id", "title", "amount", "currency", "responsible_id", "tags", "stage_id", "pipeline_id")
OTHER_FIELDS = ("contact.name", "contact.email", "contact.phone", "contact.company", "stage.name",
                "responsible.name", "responsible.email")


def field_name(name: str) -> str:
    """The canonical dotted name; bare deal fields ("amount", "fields.source") are accepted too."""
    if name in DEAL_FIELDS or name.startswith("fields."):
        return f"deal.{name}"
    return name


def known_field(name: Any) -> bool:
    """True for a field conditions can read."""
    if not isinstance(name, str):
        return False
    name = field_name(name)
    if name.startswith("deal.fields.") and len(name) > len("deal.fields."):
        return True
    return name in OTHER_FIELDS or (name.startswith("deal.") and name[5:] in DEAL_FIELDS)


def validate_condition(condition: Any, prefix: str = "condition") -> dict[str, str]:
    """Field errors for a condition (empty when valid); None and {} mean "always"."""
    return core.validate(condition, known_field, prefix)


def deal_values(session: Session, deal: Deal) -> dict[str, Any]:
    """Plain nested values conditions read: deal (with fields), contact, stage, responsible."""
    contact = session.get(Person, deal.person_id) if deal.person_id else None
    org = session.get(Organization, contact.organization_id) if contact and contact.organization_id else None
    stage = session.get(Stage, deal.stage_id)
    person = session.get(User, deal.responsible_id) if deal.responsible_id else None
    deal_part: dict[str, Any] = {name: getattr(deal, name) for name in DEAL_FIELDS}
    deal_part["tags"] = list(deal.tags or [])
    deal_part["fields"] = dict(deal.fields or {})
    return {
        "deal": deal_part,
        "contact": {"name": contact.name, "email": contact.email, "phone": contact.phone,
                    "company": org.name if org else None} if contact else {},
        "stage": {"name": stage.name if stage else None},
        "responsible": {"name": person.name, "email": person.email} if person else {},
    }


def lookup(values: dict[str, Any], name: str) -> Any:
    """The value at a dotted name, bare deal fields included (None when any part is missing)."""
    return core.lookup(values, field_name(name))


def evaluate(condition: dict[str, Any] | None, values: dict[str, Any]) -> tuple[bool, str]:
    """(holds, explanation naming the comparisons that failed and the actual values)."""
    holds, details = core.evaluate(condition, values, lookup)
    return holds, "" if holds else "; ".join(core.reasons(condition, details))
