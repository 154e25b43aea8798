"""Conditions {"all"|"any": [{"field","op","value"} or nested groups]} evaluated over plain nested values.

Robots and triggers share this evaluator; each passes which field names it knows and how it looks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kanban.i18n import _

OPS = {"=": "=", "==": "=", "!=": "≠", "≠": "≠", ">": ">", "<": "<", ">=": "≥", "≥": "≥", "<=": "≤", "≤": "≤",
       "contains": "contains", "empty": "empty", "not_empty": "not_empty", "in": "in"}
NO_VALUE_OPS = {"empty", "not_empty"}
ORDER_OPS = (">", "<", "≥", "≤")
MAX_ITEMS = 50
MAX_DEPTH = 3

Lookup = Callable[[dict[str, Any], str], Any]


def lookup(values: dict[str, Any], name: str) -> Any:
    """The value at a dotted name (None when any part is missing)."""
    current: Any = values
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def evaluate(condition: dict[str, Any] | None, values: dict[str, Any],
             find: Lookup = lookup) -> tuple[bool, dict[str, Any]]:
    """(holds, details); details maps each field of a comparison that failed to its actual value."""
    if not condition:
        return True, {}
    details: dict[str, Any] = {}
    holds = _group(condition, values, find, details)
    return holds, ({} if holds else details)


def _is_group(item: Any) -> bool:
    return isinstance(item, dict) and ("all" in item or "any" in item)


def _group(group: dict[str, Any], values: dict[str, Any], find: Lookup, details: dict[str, Any]) -> bool:
    mode = "all" if "all" in group else "any"
    results = []
    for item in group.get(mode) or []:
        if _is_group(item):
            results.append(_group(item, values, find, details))
            continue
        actual = find(values, item["field"])
        ok = compare(actual, item["op"], item.get("value"))
        if not ok:
            details[item["field"]] = actual
        results.append(ok)
    return all(results) if mode == "all" else any(results)


def reasons(condition: dict[str, Any] | None, details: dict[str, Any]) -> list[str]:
    """One phrase per failed comparison, in condition order: "deal.amount is 5 (needs > 10)"."""
    parts = []
    for item in _leaves(condition or {}):
        field = item["field"]
        # details hold one actual value per field; a comparison on that field which held is not a reason.
        if field in details and not compare(details[field], item["op"], item.get("value")):
            want = OPS.get(item["op"], item["op"])
            wanted = "" if want in NO_VALUE_OPS else f" {item.get('value')!r}"
            parts.append(f"{field} is {details[field]!r} (needs {want}{wanted})")
    return list(dict.fromkeys(parts))


def explain(condition: dict[str, Any] | None, details: dict[str, Any]) -> str:
    """A sentence for a skip reason: which comparisons failed and with what actual values."""
    return "condition not met: " + "; ".join(reasons(condition, details))


def _leaves(group: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in group.get("all") or group.get("any") or []:
        out.extend(_leaves(item) if _is_group(item) else [item])
    return out


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip().casefold()


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list):
        # A list field (tags) "equals" a single value when it holds it.
        if isinstance(wanted, list):
            return sorted(map(_text, actual)) == sorted(map(_text, wanted))
        return any(_equal(item, wanted) for item in actual)
    a, b = _number(actual), _number(wanted)
    if a is not None and b is not None:
        return a == b
    return _text(actual) == _text(wanted)


def _order(actual: Any, wanted: Any) -> int | None:
    """-1/0/1 comparing numbers or dates; None when the two are not comparable."""
    a, b = _number(actual), _number(wanted)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = _moment(actual), _moment(wanted)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    return None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


def _choices(wanted: Any) -> list[Any]:
    if isinstance(wanted, list):
        return wanted
    return [part for part in str(wanted or "").split(",") if part.strip()]


def compare(actual: Any, op: str, wanted: Any) -> bool:
    """One comparison; incomparable values (text > number, missing field) compare false."""
    op = OPS.get(op, op)
    if op in NO_VALUE_OPS:
        return _is_empty(actual) == (op == "empty")
    if op in ("=", "≠"):
        return _equal(actual, wanted) == (op == "=")
    if op == "contains":
        if isinstance(actual, list):
            return any(_equal(item, wanted) for item in actual)
        return actual is not None and _text(wanted) in _text(actual)
    if op == "in":
        return any(_equal(actual, choice) for choice in _choices(wanted))
    order = _order(actual, wanted)
    if order is None or op not in ORDER_OPS:
        return False
    return {">": order > 0, "<": order < 0, "≥": order >= 0, "≤": order <= 0}[op]


def validate(condition: Any, known: Callable[[str], bool], prefix: str = "condition") -> dict[str, str]:
    """Field-level errors of a condition (empty dict when valid); None and {} mean "always".

    `known(name)` says whether a comparison may read the field `name`.
    """
    if condition is None or condition == {}:
        return {}
    return _validate_group(condition, known, prefix, 1)


def _validate_group(group: Any, known: Callable[[str], bool], prefix: str, depth: int) -> dict[str, str]:
    if not isinstance(group, dict) or len(group) != 1 or next(iter(group)) not in ("all", "any"):
        return {prefix: 'a condition is {"all": [...]} or {"any": [...]}'}
    if depth > MAX_DEPTH:
        return {prefix: f"groups nest at most {MAX_DEPTH} deep"}
    mode = next(iter(group))
    items = group[mode]
    if not isinstance(items, list) or not items:
        return {f"{prefix}.{mode}": "give at least one comparison"}
    if len(items) > MAX_ITEMS:
        return {f"{prefix}.{mode}": f"at most {MAX_ITEMS} comparisons"}
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"{prefix}.{mode}.{index}"
        if _is_group(item):
            errors.update(_validate_group(item, known, where, depth + 1))
        else:
            errors.update(_validate_item(item, known, where))
    return errors


def _validate_item(item: Any, known: Callable[[str], bool], where: str) -> dict[str, str]:
    if not isinstance(item, dict):
        return {where: 'a comparison is {"field", "op", "value"}'}
    errors: dict[str, str] = {}
    unknown = set(item) - {"field", "op", "value"}
    if unknown:
        errors[where] = _("unknown keys: %(unknown)s", unknown=', '.join(sorted(unknown)))
    field = item.get("field")
    if not isinstance(field, str) or not known(field):
        errors[f"{where}.field"] = _("unknown field (use e.g. deal.amount, deal.fields.source, deal.tags)")
    op = item.get("op")
    if op not in OPS:
        errors[f"{where}.op"] = _("unknown operator (one of %(set)s)", set=', '.join(sorted(set(OPS.values()))))
    elif OPS[op] not in NO_VALUE_OPS:
        errors.update(_validate_value(OPS[op], item.get("value"), where))
    return errors


def _validate_value(op: str, value: Any, where: str) -> dict[str, str]:
    if op == "in" and not isinstance(value, (list, str)):
        return {f"{where}.value": "give a list of values (or a comma-separated text)"}
    if op != "in" and (value is None or isinstance(value, (dict, list)) and op != "="):
        return {f"{where}.value": "a value is required"}
    if op in ORDER_OPS and _number(value) is None and _moment(value) is None:
        return {f"{where}.value": "compare with a number or a date (YYYY-MM-DD)"}
    return {}


def checks(condition: dict[str, Any] | None, values: dict[str, Any], find: Lookup = lookup,
           unknown: Callable[[str], bool] = lambda field: False) -> list[dict[str, Any]]:
    """Each comparison of a condition with its current result: {field, op, value, actual, result}.

    `unknown(field)` marks fields that have no value yet (an earlier robot's output): result None."""
    out = []
    for item in _leaves(condition or {}):
        field = item["field"]
        if unknown(field):
            out.append({"field": field, "op": item["op"], "value": item.get("value"), "actual": None,
                        "result": None})
            continue
        actual = find(values, field)
        out.append({"field": field, "op": item["op"], "value": item.get("value"), "actual": actual,
                    "result": compare(actual, item["op"], item.get("value"))})
    return out
