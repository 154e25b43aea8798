"""The condition editor shared by the robot and trigger forms: a condition as rows, and posted rows back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from kanban import strictjson
from kanban.conditions import NO_VALUE_OPS, OPS
from kanban.i18n import _, lazy_gettext

# The operators as the robot and trigger forms show them: in words, never the raw `=` / `not_empty`.
OP_LABELS = [("=", lazy_gettext("equals")), ("≠", lazy_gettext("differs from")), (">", lazy_gettext("greater than")),
             ("<", lazy_gettext("less than")), ("≥", lazy_gettext("at least")), ("≤", lazy_gettext("at most")),
             ("contains", lazy_gettext("contains")), ("empty", lazy_gettext("is empty")),
             ("not_empty", lazy_gettext("is not empty")), ("in", lazy_gettext("is one of (comma-separated)"))]


def editor(condition: Mapping[str, Any] | None) -> dict[str, Any]:
    """mode ("all"/"any"), one row per comparison (canonical operators) and, for nested groups, JSON text."""
    condition = condition or {}
    mode = "any" if "any" in condition else "all"
    items = condition.get(mode) or []
    rows = [{**row, "op": OPS.get(row.get("op"), row.get("op"))}
            for row in items if isinstance(row, dict) and "field" in row]
    # Nested groups (possible through the API) have no rows editor: they are edited as JSON, never dropped.
    text = json.dumps(condition, indent=1, ensure_ascii=False) if len(rows) != len(items) else ""
    return {"mode": mode, "rows": rows, "json": text}


def parse(form: FormData, errors: dict[str, str]) -> Any:
    """The editor's rows (empty rows ignored), or its JSON text, as a condition object (None: always)."""
    if "condition_json" in form:
        raw = str(form.get("condition_json", "")).strip()
        try:
            return strictjson.loads(raw) if raw else None
        except strictjson.JSONValueError as exc:
            errors["condition"] = _("not valid JSON: %(exc)s", exc=exc)
            return None
    mode = "any" if form.get("cond_mode") == "any" else "all"
    rows = []
    fields, ops, values = form.getlist("cond_field"), form.getlist("cond_op"), form.getlist("cond_value")
    for name, op, value in zip(fields, ops, values, strict=False):
        name = str(name).strip()
        if not name:
            continue
        row: dict[str, Any] = {"field": name, "op": str(op)}
        if OPS.get(str(op)) not in NO_VALUE_OPS:
            row["value"] = [v.strip() for v in str(value).split(",")] if op == "in" else str(value).strip()
        rows.append(row)
    return {mode: rows} if rows else None


OP_SIGNS = {"=": "=", "≠": "≠", ">": ">", "<": "<", "≥": "≥", "≤": "≤"}


def words(condition: dict[str, Any] | None) -> str:
    """A condition in words for robot and trigger cards: “if amount > 3,000 and currency = “EUR”” ("" if none)."""
    if not condition:
        return ""
    mode = "any" if "any" in condition else "all"
    parts = []
    for item in condition.get(mode) or []:
        if not isinstance(item, dict) or "field" not in item:
            parts.append(_("(a group of conditions)"))
            continue
        name = str(item["field"]).removeprefix("deal.").removeprefix("fields.").replace("_", " ")
        op = OPS.get(str(item.get("op")), item.get("op"))  # aliases (!=, >=) as their canonical sign
        if op in ("empty", "not_empty"):
            parts.append(f"{name} {_('is empty') if op == 'empty' else _('is set')}")
            continue
        value = item.get("value")
        shown = ", ".join(_value(v) for v in value) if isinstance(value, list) else _value(value)
        word = OP_SIGNS.get(op) or {"contains": _("contains"), "in": _("is one of")}.get(op, str(op))
        parts.append(f"{name} {word} {shown}")
    glue = f" {_('or')} " if mode == "any" else f" {_('and')} "
    return _("if %(what)s", what=glue.join(parts))


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:,}"
    return f"“{value}”"
