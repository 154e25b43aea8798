"""The condition editor shared by the robot and trigger forms: a condition as rows, and posted rows back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from kanban import strictjson
from kanban.conditions import NO_VALUE_OPS, OPS
from kanban.i18n import _


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
