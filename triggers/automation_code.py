"""Triggers in the automation document (kanban.automation_code): a stage's triggers in order, named by kind and
rank (`invoice_paid_1`, …), the user a trigger moves as by email, secrets never exported (an imported
inbound_webhook trigger gets a new one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.automation_code import Refs, Section
from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.models import Stage
from triggers import config
from triggers.models import Trigger

FIELDS = ("key", "kind", "name", "settings", "condition", "allow_backward", "move_as", "active")


def keys_for(kinds: list[str]) -> list[str]:
    """The stable keys of a stage's triggers in order: kind and rank among triggers of that kind."""
    seen: dict[str, int] = {}
    out = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        out.append(f"{kind}_{seen[kind]}")
    return out


def export_triggers(session: Session, stage_id: int, refs: Refs) -> list[dict[str, Any]]:
    """A stage's triggers in order, as document items."""
    rows = list(session.execute(select(*Trigger.__table__.c).where(Trigger.stage_id == stage_id)
                                .order_by(Trigger.position, Trigger.id)).mappings())
    return [{"key": key, "kind": t["kind"], "name": t["name"], "settings": t["settings"] or {},
             "condition": t["condition"], "allow_backward": bool(t["allow_backward"]),
             "move_as": refs.user_email(t["move_as_id"]) if t["move_as_id"] is not None else None,
             "active": bool(t["active"])}
            for key, t in zip(keys_for([t["kind"] for t in rows]), rows, strict=True)]


def apply_triggers(session: Session, stage_id: int, items: list[Any], refs: Refs) -> None:
    """Make a stage's triggers the document's list: matched by key, changed in place, the rest added/removed."""
    errors: dict[str, str] = {}
    existing = config.list_triggers(session, stage_id)
    by_key = dict(zip(keys_for([t.kind for t in existing]), existing, strict=True))
    kinds = [i.get("kind") if isinstance(i, dict) else None for i in items]
    wanted = set(keys_for([k if isinstance(k, str) else "?" for k in kinds]))
    for key, trigger in by_key.items():
        if key not in wanted:
            config.delete_trigger(session, trigger.id)
    ordered: list[Trigger] = []
    for i, (key, item) in enumerate(zip(keys_for([k if isinstance(k, str) else "?" for k in kinds]), items,
                                        strict=True)):
        if not isinstance(item, dict):
            errors[f"[{i}]"] = _("a trigger is a mapping with kind, name, settings…")
            continue
        for name in sorted(set(item) - set(FIELDS), key=str):
            errors[f"[{i}].{name}"] = _("unknown key")
        if item.get("key") not in (None, key):
            errors[f"[{i}].key"] = _("trigger keys follow their kind and order: this one is “%(key)s”", key=key)
        data = {k: v for k, v in item.items() if k in FIELDS and k not in ("key", "kind", "move_as")}
        data.setdefault("condition", None)
        data.setdefault("allow_backward", False)
        data.setdefault("active", True)
        data["move_as_id"] = None
        if item.get("move_as") is not None:
            data["move_as_id"] = refs.user_id(item["move_as"])
            if data["move_as_id"] is None:
                errors[f"[{i}].move_as"] = _("no user with the email “%(value)s”", value=item['move_as'])
                continue
        try:
            trigger = by_key.get(key)
            if trigger is None:
                trigger, _secret = config.create_trigger(session, stage_id, {"kind": item.get("kind"), **data})
            else:
                config.update_trigger(session, trigger.id, {"name": None, "settings": {}, **data})
            ordered.append(trigger)
        except ValidationError as exc:
            for path, message in (exc.fields or {"": exc.message}).items():
                errors[f"[{i}].{path.replace('move_as_id', 'move_as')}" if path else f"[{i}]"] = message
    if errors:
        raise ValidationError(_("invalid triggers"), errors)
    for position, trigger in enumerate(ordered):
        if trigger.position != position:
            trigger.position = position
    session.flush()


def trigger_pipeline(session: Session, obj: Any) -> int | None:
    """The pipeline whose document a trigger belongs to."""
    return session.scalar(select(Stage.pipeline_id).where(Stage.id == obj.stage_id))


SECTION = Section("triggers", "stage", "key", export_triggers, apply_triggers, (Trigger,), trigger_pipeline)
