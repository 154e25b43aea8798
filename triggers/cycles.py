"""Warn when saving a trigger closes a loop: unconditional automatic moves (change_stage robots, other triggers)
lead from the trigger's stage back to a stage it pulls deals from, so deals would bounce between them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, String, column, select, table
from sqlalchemy.orm import Session

from kanban.db import JSONType
from kanban.i18n import _
from kanban.models import Stage
from kanban.stage_graph import Edge, find_path
from triggers.models import Trigger

# triggers/ must not import robots/: the robot table is read through a lightweight table clause.
_robots = table(
    "robots",
    column("id", Integer), column("stage_id", Integer), column("kind", String), column("name", String),
    column("settings", JSONType), column("condition", JSONType), column("delay", JSONType),
    column("active", Boolean),
)



def _pulls_from(trigger: Any, source: Stage, order: dict[int, int]) -> bool:
    """A trigger moves deals into its stage from earlier stages (any other stage when it allows backward)."""
    backward = bool(trigger.allow_backward)
    return source.id != trigger.stage_id and (backward or order[source.id] < order[trigger.stage_id])


def _edges(session: Session, stages: list[Stage], order: dict[int, int], skip_id: int | None) -> list[Edge]:
    edges: list[Edge] = []
    robots = session.execute(select(_robots).where(_robots.c.stage_id.in_(order), _robots.c.kind == "change_stage",
                                                   _robots.c.active.is_(True)))
    for robot in robots:
        target = (robot.settings or {}).get("stage_id")
        if robot.condition or (robot.delay or {}).get("type", "now") != "now" or target not in order:
            continue
        edges.append((robot.stage_id, target, _("robot “%(name)s”", name=robot.name)))
    others = session.scalars(select(Trigger).where(Trigger.stage_id.in_(order), Trigger.active.is_(True),
                                                   Trigger.id != (skip_id or 0)))
    for other in others:
        if other.condition:
            continue
        for source in stages:
            if _pulls_from(other, source, order):
                edges.append((source.id, other.stage_id, _("trigger “%(name)s”", name=other.name)))
    return edges


def loop_warnings(session: Session, trigger: Trigger) -> list[str]:
    """Warnings when this (active, unconditional) trigger's move is undone by unconditional automatic moves."""
    if not trigger.active or trigger.condition:
        return []
    stage = session.get(Stage, trigger.stage_id)
    if stage is None:
        return []
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == stage.pipeline_id,
                                                      Stage.archived.is_(False)).order_by(Stage.position)))
    order = {s.id: i for i, s in enumerate(stages)}
    edges = _edges(session, stages, order, trigger.id)
    names = {s.id: s.name for s in stages}
    for source in stages:
        if not _pulls_from(trigger, source, order):
            continue
        back = find_path(edges, trigger.stage_id, source.id)
        if back is None:
            continue
        steps = [f"{names[a]} → {names[b]} ({label})" for a, b, label in back]
        steps.append(f"{names[source.id]} → {names[trigger.stage_id]} ({_('this trigger')})")
        return [_("This trigger closes a loop of automatic moves with no condition: %(steps)s. The loop guard "
                  "will stop it, but deals will bounce between these stages.", steps="; ".join(steps))]
    return []
