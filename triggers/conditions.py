"""Trigger conditions in the robots' format: {"all"|"any": [{"field","op","value"} or nested groups]}.

Same fields and operators as robots/conditions.py (deal.amount, deal.fields.<name>, contact.email, ...);
triggers may not import robots, so this is the small evaluator they need until a shared one lives in kanban/.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from kanban.models import Contact, Deal, Stage, User

OPS = {"=": "=", "==": "=", "!=": "≠", "≠": "≠", ">": ">", "<": "<", ">=": "≥", "≥": "≥", "<=": "≤", "≤": "≤",
       "contains": "contains", "empty": "empty", "not_empty": "not_empty", "in": "in"}
NO_VALUE_OPS = {"empty", "not_empty"}
DEAL_FIELDS = ("id", "title", "amount", "currency", "responsible_id", "tags", "stage_id", "pipeline_id")
OTHER_FIELDS = ("contact.name", "contact.email", "contact.phone", "contact.company", "stage.name",
                "responsible.name", "responsible.email")
MAX_DEPTH = 3
MAX_ITEMS = 50


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


def validate_condition(condition: Any, prefix: str = "condition", depth: int = 1) -> dict[str, str]:
    """Field errors for a condition (empty when valid); None and {} mean "always"."""
    if condition is None or condition == {}:
        return {}
    if not isinstance(condition, dict) or len(condition) != 1 or next(iter(condition)) not in ("all", "any"):
        return {prefix: 'a condition is {"all": [...]} or {"any": [...]}'}
    if depth > MAX_DEPTH:
        return {prefix: f"groups nest at most {MAX_DEPTH} deep"}
    (mode, items), = condition.items()
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        return {f"{prefix}.{mode}": f"give 1 to {MAX_ITEMS} comparisons"}
    errors: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"{prefix}.{mode}.{i}"
        if isinstance(item, dict) and ("all" in item or "any" in item):
            errors.update(validate_condition(item, where, depth + 1))
        elif not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
            errors[where] = 'a comparison is {"field", "op", "value"}'
        else:
            if not known_field(item.get("field")):
                errors[f"{where}.field"] = "unknown field (use e.g. deal.amount, deal.fields.source, deal.tags)"
            op = item.get("op")
            if op not in OPS:
                errors[f"{where}.op"] = f"unknown operator (one of {', '.join(sorted(set(OPS.values())))})"
            elif OPS[op] not in NO_VALUE_OPS and item.get("value") is None:
                errors[f"{where}.value"] = "a value is required"
    return errors


def deal_values(session: Session, deal: Deal) -> dict[str, Any]:
    """Plain nested values conditions read: deal (with fields), contact, stage, responsible."""
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    stage = session.get(Stage, deal.stage_id)
    person = session.get(User, deal.responsible_id) if deal.responsible_id else None
    deal_part: dict[str, Any] = {name: getattr(deal, name) for name in DEAL_FIELDS}
    deal_part["tags"] = list(deal.tags or [])
    deal_part["fields"] = dict(deal.fields or {})
    return {
        "deal": deal_part,
        "contact": {k: getattr(contact, k) for k in ("name", "email", "phone", "company")} if contact else {},
        "stage": {"name": stage.name if stage else None},
        "responsible": {"name": person.name, "email": person.email} if person else {},
    }


def lookup(values: dict[str, Any], name: str) -> Any:
    """The value at a dotted name (None when any part is missing)."""
    current: Any = values
    for part in field_name(name).split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip().casefold()


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list):
        if isinstance(wanted, list):
            return sorted(map(_text, actual)) == sorted(map(_text, wanted))
        return any(_equal(item, wanted) for item in actual)
    a, b = _number(actual), _number(wanted)
    if a is not None and b is not None:
        return a == b
    return _text(actual) == _text(wanted)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def compare(actual: Any, op: str, wanted: Any) -> bool:
    """One comparison; incomparable values (text > number, missing field) compare false."""
    op = OPS.get(op, op)
    if op in NO_VALUE_OPS:
        return _empty(actual) == (op == "empty")
    if op in ("=", "≠"):
        return _equal(actual, wanted) == (op == "=")
    if op == "contains":
        if isinstance(actual, list):
            return any(_equal(item, wanted) for item in actual)
        return actual is not None and _text(wanted) in _text(actual)
    if op == "in":
        choices = wanted if isinstance(wanted, list) else [p for p in str(wanted or "").split(",") if p.strip()]
        return any(_equal(actual, choice) for choice in choices)
    a, b = _number(actual), _number(wanted)
    if a is None or b is None:
        return False
    return {">": a > b, "<": a < b, "≥": a >= b, "≤": a <= b}[op]


def evaluate(condition: dict[str, Any] | None, values: dict[str, Any]) -> tuple[bool, str]:
    """(holds, explanation naming the comparisons that failed and the actual values)."""
    if not condition:
        return True, ""
    failed: list[str] = []
    holds = _group(condition, values, failed)
    return holds, "" if holds else "; ".join(dict.fromkeys(failed))


def _group(group: dict[str, Any], values: dict[str, Any], failed: list[str]) -> bool:
    mode = "all" if "all" in group else "any"
    results = []
    for item in group.get(mode) or []:
        if "all" in item or "any" in item:
            results.append(_group(item, values, failed))
            continue
        actual = lookup(values, item["field"])
        ok = compare(actual, item["op"], item.get("value"))
        if not ok:
            op = OPS.get(item["op"], item["op"])
            wanted = "" if op in NO_VALUE_OPS else f" {item.get('value')!r}"
            failed.append(f"{item['field']} is {actual!r} (needs {op}{wanted})")
        results.append(ok)
    return all(results) if mode == "all" else any(results)
