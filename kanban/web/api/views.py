"""JSON views (serializers) of core rows, and their OpenAPI component schemas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.models import Deal, Person, Pipeline, Stage, TimelineEntry, User
from kanban.money import format_money
from kanban.queries import is_rotting, next_activities
from kanban.web.api.base import iso
from kanban.web.api.schema import ANY_OBJ, BIGINT, BOOL, INT, STR, TIME, arr, component, nullable, obj

USER = component("User", obj({
    "id": INT, "email": STR, "name": STR, "role": {"type": "string", "description": "a role name (GET /roles)"},
    "department_id": nullable(INT), "phone": nullable(STR), "active": BOOL,
    "time_zone": nullable(STR),  # IANA zone; null: the company's (GET /settings)
    "language": nullable({"type": "string", "enum": ["en", "fr", "it"],
                          "description": "interface language; null: the company's"}),
}, ["id", "email", "name", "role", "department_id", "active"]))
STAGE = component("Stage", obj({
    "id": INT, "pipeline_id": INT, "name": STR, "position": INT,
    "kind": {"type": "string", "enum": ["open", "won", "lost"]}, "probability": INT, "rotting_days": nullable(INT),
}, ["id", "name", "position", "kind", "probability", "rotting_days"]))
VISIBLE_TO = {"anyOf": [{"type": "string", "enum": ["all"]}, {"type": "array", "items": {"type": "integer"}}],
              "description": '"all", or the ids of the departments that see the pipeline'}
PIPELINE = component("Pipeline", obj({"id": INT, "name": STR, "lost_reason_required": BOOL, "stages": arr(STAGE),
                                      "visible_to": VISIBLE_TO},
                                     ["id", "name", "lost_reason_required", "stages", "visible_to"]))
CONTACT = component("Contact", obj({"id": INT, "name": STR, "email": nullable(STR), "phone": nullable(STR)},
                                   ["id", "name", "email", "phone"]))
NEXT_ACTIVITY = component("NextActivity", obj({
    "id": INT, "type": STR, "subject": STR, "due_at": STR,
    "state": {"type": "string", "enum": ["overdue", "today", "upcoming"]},
}, ["id", "type", "subject", "due_at", "state"]))
DEAL = component("Deal", obj({
    "id": INT, "title": STR, "pipeline_id": INT, "stage_id": INT, "amount": BIGINT, "currency": STR,
    "amount_display": STR, "responsible_id": nullable(INT), "contact": nullable(CONTACT), "fields": ANY_OBJ,
    "tags": arr(STR),
    "version": INT, "stage_entered_at": TIME, "created_at": TIME, "person_id": nullable(INT),
    "organization_id": nullable(INT), "status": {"type": "string", "enum": ["open", "won", "lost"]},
    "lost_reason": nullable(STR), "closed_at": nullable(TIME), "next_activity": nullable(NEXT_ACTIVITY),
    "rotting": BOOL, "rotting_days": nullable(INT), "last_activity_at": TIME,
}, ["id", "title", "pipeline_id", "stage_id", "amount", "currency", "amount_display", "responsible_id", "contact",
    "fields",
    "tags", "version", "stage_entered_at", "created_at", "person_id", "organization_id", "status", "lost_reason",
    "closed_at", "next_activity", "rotting"]))
ACTOR = component("Actor", obj({"type": {"type": "string", "enum": ["user", "robot", "trigger", "system"]},
                                "id": nullable(INT)}, ["type", "id"]))
TIMELINE_ENTRY = component("TimelineEntry", obj({
    "id": INT, "kind": STR, "at": TIME, "actor": ACTOR, "text": STR, "data": ANY_OBJ,
}, ["id", "kind", "at", "actor", "text", "data"]))


def user_view(user: User) -> dict[str, Any]:
    """A user as JSON (never the password hash)."""
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "department_id": user.department_id, "phone": user.phone, "active": user.active,
            "time_zone": user.time_zone, "language": user.language}


def stage_view(stage: Stage) -> dict[str, Any]:
    """A stage as JSON."""
    return {"id": stage.id, "pipeline_id": stage.pipeline_id, "name": stage.name, "position": stage.position,
            "kind": stage.kind, "probability": stage.probability, "rotting_days": stage.rotting_days}


def pipeline_view(pipeline: Pipeline) -> dict[str, Any]:
    """A pipeline with its (non-archived) stages in order."""
    return {"id": pipeline.id, "name": pipeline.name, "lost_reason_required": pipeline.lost_reason_required,
            "stages": [stage_view(s) for s in pipeline.stages],
            "visible_to": "all" if pipeline.visible_to is None else list(pipeline.visible_to)}


def _contact_json(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"id": person.id, "name": person.name, "email": person.email, "phone": person.phone}


def deal_views(session: Session, deals: Sequence[Deal]) -> list[dict[str, Any]]:
    """Deals as JSON, loading their persons, stages' rotting days and next activities in one query each."""
    ids = {d.person_id for d in deals if d.person_id is not None}
    persons = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    rotting: dict[int, int | None] = {}
    for sid in {d.stage_id for d in deals}:
        loaded = session.identity_map.get(Session.identity_key(Stage, sid))
        if loaded is not None and "rotting_days" in loaded.__dict__:
            rotting[sid] = loaded.rotting_days  # the stage is in the session already (a move loaded it)
    missing = {d.stage_id for d in deals} - set(rotting)
    if missing:
        rotting.update({sid: days for sid, days in session.execute(
            select(Stage.id, Stage.rotting_days).where(Stage.id.in_(missing)))})
    nxt = next_activities(session, [d.id for d in deals])
    out = []
    for d in deals:
        view = _deal_json(d, persons.get(d.person_id) if d.person_id else None)
        days = rotting.get(d.stage_id)
        view.update(next_activity=nxt.get(d.id), rotting_days=days,
                    rotting=is_rotting(d.status, d.last_activity_at, days))
        out.append(view)
    return out


def deal_view(session: Session, deal: Deal) -> dict[str, Any]:
    """One deal as JSON."""
    return deal_views(session, [deal])[0]


def _deal_json(deal: Deal, person: Person | None) -> dict[str, Any]:
    return {
        "id": deal.id, "title": deal.title, "pipeline_id": deal.pipeline_id, "stage_id": deal.stage_id,
        "amount": deal.amount, "currency": deal.currency, "amount_display": format_money(deal.amount, deal.currency),
        "responsible_id": deal.responsible_id, "contact": _contact_json(person), "fields": dict(deal.fields or {}),
        "tags": list(deal.tags or []),
        "version": deal.version, "stage_entered_at": iso(deal.stage_entered_at), "created_at": iso(deal.created_at),
        "person_id": deal.person_id, "organization_id": deal.organization_id, "status": deal.status,
        "lost_reason": deal.lost_reason, "closed_at": iso(deal.closed_at) if deal.closed_at else None,
        "last_activity_at": iso(deal.last_activity_at),
    }


def timeline_view(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline entry as JSON."""
    return {"id": entry.id, "kind": entry.kind, "at": iso(entry.at),
            "actor": {"type": entry.actor_type, "id": entry.actor_id}, "text": entry.text,
            "data": dict(entry.data or {})}
