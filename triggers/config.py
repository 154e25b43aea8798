"""Trigger configuration use cases: list, create, update, delete, rotate the inbound-webhook secret."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Stage, User
from kanban.registry import settings_errors
from triggers.conditions import validate_condition
from triggers.inbound import db_id
from triggers.models import Trigger
from triggers.registry import KindSettings, TriggerKind, registry

PREVIOUS_SECRET_TTL = timedelta(hours=24)
EDITABLE = ("name", "settings", "condition", "allow_backward", "move_as_id", "active")


def kind_of(name: str) -> TriggerKind:
    """An instance of the registered kind, or a ValidationError naming the field."""
    if name not in registry:
        raise ValidationError(_("unknown trigger kind"), {"kind": _("one of %(keys)s",
                                                                     keys=', '.join(registry.keys()))})
    return registry.get(name)()


def kinds_view() -> list[dict[str, Any]]:
    """Every trigger kind with its title and JSON settings schema."""
    return [{"kind": key, "title": cls.title, "settings_schema": cls.Settings.model_json_schema(), "outputs": []}
            for key, cls in registry.items()]


def parse_settings(kind: TriggerKind, raw: Any) -> KindSettings:
    """Validated settings of a kind, or ValidationError with one field per problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError(_("invalid settings"), {"settings": _("settings is an object")})
    try:
        return kind.Settings.model_validate(raw)
    except PydanticError as exc:
        raise ValidationError(_("invalid settings"), settings_errors(exc)) from None


def new_secret() -> str:
    """A fresh Standard Webhooks secret (whsec_ + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def get_trigger(session: Session, trigger_id: int) -> Trigger:
    """Load a trigger or raise NotFoundError."""
    trigger = session.get(Trigger, trigger_id) if db_id(trigger_id) else None
    if trigger is None:
        raise NotFoundError(_("trigger %(trigger_id)s not found", trigger_id=trigger_id))
    return trigger


def list_triggers(session: Session, stage_id: int) -> list[Trigger]:
    """The triggers of a stage in their order."""
    return list(session.scalars(select(Trigger).where(Trigger.stage_id == stage_id)
                                .order_by(Trigger.position, Trigger.id)))


def _clean(session: Session, kind: TriggerKind, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    if "name" in data:
        name = data["name"]
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            errors["name"] = _("name is text of at most 200 characters")
        out["name"] = (name or "").strip() or kind.title
    if "settings" in data:
        try:
            out["settings"] = parse_settings(kind, data["settings"]).model_dump(mode="json")
        except ValidationError as exc:
            errors.update(exc.fields)
    if "condition" in data:
        errors.update(validate_condition(data["condition"]))
        out["condition"] = data["condition"] or None
    for flag in ("allow_backward", "active"):
        if flag in data:
            if not isinstance(data[flag], bool):
                errors[flag] = _("true or false")
            out[flag] = data[flag]
    if "move_as_id" in data and data["move_as_id"] is not None:
        uid = data["move_as_id"]
        user = session.get(User, uid) if db_id(uid) else None
        if user is None or not user.active:
            errors["move_as_id"] = _("unknown or inactive user")
    if "move_as_id" in data:
        out["move_as_id"] = data["move_as_id"]
    for key in ("name", "settings", "condition"):
        if key in out and "\\u0000" in json.dumps(out[key]):
            errors[key] = _("must not contain NUL characters")
    if errors:
        raise ValidationError(_("invalid trigger"), errors)
    return out


def create_trigger(session: Session, stage_id: int, data: dict[str, Any]) -> tuple[Trigger, str | None]:
    """Create a trigger on its target stage; returns it and, for inbound_webhook, its secret (shown once)."""
    stage = session.get(Stage, stage_id) if db_id(stage_id) else None
    if stage is None or stage.archived:
        raise NotFoundError(_("stage %(stage_id)s not found", stage_id=stage_id))
    unknown = set(data) - {"kind", *EDITABLE}
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "unknown field" for k in sorted(unknown)})
    kind = kind_of(data.get("kind") if isinstance(data.get("kind"), str) else "")
    values = _clean(session, kind, {"name": None, "settings": {}, **data})
    position = session.scalar(select(func.count()).select_from(Trigger).where(Trigger.stage_id == stage_id))
    trigger = Trigger(stage_id=stage_id, kind=kind.kind, position=position or 0, **values)
    secret = new_secret() if kind.has_secret else None
    trigger.secret = secret
    session.add(trigger)
    session.flush()
    return trigger, secret


def update_trigger(session: Session, trigger_id: int, data: dict[str, Any]) -> Trigger:
    """Change a trigger's editable fields (its kind and stage are fixed)."""
    trigger = get_trigger(session, trigger_id)
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError(_("unknown fields"), {k: "cannot be changed" for k in sorted(unknown)})
    for key, value in _clean(session, kind_of(trigger.kind), data).items():
        setattr(trigger, key, value)
    session.flush()
    return trigger


def reorder_triggers(session: Session, stage_id: int, ids: Any) -> list[Trigger]:
    """Set the order of a stage's triggers (the order they are weighed in within the stage)."""
    triggers = {t.id: t for t in list_triggers(session, stage_id)}
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError(_("ids must be a list of trigger ids"), {"ids": _("a list of trigger ids")})
    if sorted(ids) != sorted(triggers):
        raise ValidationError(_("ids must list every trigger of the stage once"),
                              {"ids": _("wrong set of triggers")})
    ordered = [triggers[i] for i in ids]
    for position, trigger in enumerate(ordered):
        trigger.position = position
    session.flush()
    return ordered


def move_trigger(session: Session, trigger_id: int, delta: int) -> list[Trigger]:
    """Move a trigger one place up (-1) or down (+1) in its stage."""
    trigger = get_trigger(session, trigger_id)
    triggers = list_triggers(session, trigger.stage_id)
    i = triggers.index(trigger)
    j = max(0, min(len(triggers) - 1, i + delta))
    triggers[i], triggers[j] = triggers[j], triggers[i]
    return reorder_triggers(session, trigger.stage_id, [t.id for t in triggers])


def delete_trigger(session: Session, trigger_id: int) -> None:
    """Delete a trigger (its past inbound events keep their outcome)."""
    session.delete(get_trigger(session, trigger_id))
    session.flush()


def rotate_secret(session: Session, trigger_id: int) -> str:
    """Give an inbound_webhook trigger a new secret; the previous one stays valid for 24 hours."""
    trigger = get_trigger(session, trigger_id)
    if not kind_of(trigger.kind).has_secret:
        raise ValidationError(_("this trigger has no secret"), {"kind": _("only inbound_webhook triggers have one")})
    secret = new_secret()
    trigger.previous_secret = trigger.secret
    trigger.previous_secret_expires_at = clock.now() + PREVIOUS_SECRET_TTL
    trigger.secret = secret
    session.flush()
    return secret


def valid_secrets(trigger: Trigger) -> list[str]:
    """The secrets a signature may use now: current, and the previous one until it expires."""
    found = [trigger.secret] if trigger.secret else []
    expires = trigger.previous_secret_expires_at
    if trigger.previous_secret and expires is not None and expires > clock.now():
        found.append(trigger.previous_secret)
    return found


def hook_url(public_url: str, trigger_id: int) -> str:
    """The URL outside systems call for an inbound_webhook trigger."""
    return f"{public_url.rstrip('/')}/hooks/triggers/{trigger_id}"


def trigger_view(trigger: Trigger, public_url: str, secret: str | None = None) -> dict[str, Any]:
    """A trigger as API JSON; `secret` is included only right after create or rotate."""
    view: dict[str, Any] = {
        "id": trigger.id, "stage_id": trigger.stage_id, "kind": trigger.kind, "name": trigger.name,
        "settings": trigger.settings, "condition": trigger.condition, "allow_backward": trigger.allow_backward,
        "move_as_id": trigger.move_as_id, "active": trigger.active, "position": trigger.position,
    }
    if trigger.kind in registry and registry.get(trigger.kind).has_secret:
        view["url"] = hook_url(public_url, trigger.id)
        if secret is not None:
            view["secret"] = secret
    return view
