"""Warn when unconditional automatic moves (change_stage robots, triggers) form a cycle of stages."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, column, select, table
from sqlalchemy.orm import Session

from kanban.models import Stage
from kanban.stage_graph import Edge, find_path
from robots.models import Robot

# robots/ must not import triggers/; the trigger table is read through a lightweight table clause.
_triggers = table(
    "triggers",
    column("id", Integer), column("stage_id", Integer), column("name"), column("condition"),
    column("allow_backward", Boolean), column("active", Boolean),
)



def move_edges(session: Session, pipeline_id: int) -> list[Edge]:
    """Stage-to-stage moves that happen with no condition: immediate change_stage robots and triggers."""
    stages = list(session.scalars(
        select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.archived.is_(False)).order_by(Stage.position)
    ))
    order = {s.id: i for i, s in enumerate(stages)}
    edges: list[Edge] = []
    robots = session.scalars(select(Robot).where(
        Robot.stage_id.in_(order), Robot.kind == "change_stage", Robot.active.is_(True)))
    for robot in robots:
        target = (robot.settings or {}).get("stage_id")
        if robot.condition or (robot.delay or {}).get("type", "now") != "now" or target not in order:
            continue
        edges.append((robot.stage_id, target, f"robot “{robot.name}”"))
    rows = session.execute(select(_triggers).where(_triggers.c.stage_id.in_(order), _triggers.c.active.is_(True)))
    for row in rows:
        if row.condition:
            continue
        # A trigger can pull a deal from any earlier stage (any stage at all when it allows backward moves).
        for source in stages:
            if source.id != row.stage_id and (row.allow_backward or order[source.id] < order[row.stage_id]):
                edges.append((source.id, row.stage_id, f"trigger “{row.name}”"))
    return edges


def cycle_warnings(session: Session, pipeline_id: int, robot: Robot) -> list[str]:
    """Warnings when this robot's move, followed by other unconditional moves, leads back to its stage."""
    target = (robot.settings or {}).get("stage_id")
    if (robot.kind != "change_stage" or not robot.active or robot.condition
            or (robot.delay or {}).get("type", "now") != "now" or not isinstance(target, int)):
        return []
    back = find_path(move_edges(session, pipeline_id), target, robot.stage_id)
    if back is None:
        return []
    names = {s.id: s.name for s in session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id))}
    steps = [f"{names.get(robot.stage_id)} → {names.get(target)} (robot “{robot.name}”)"]
    steps += [f"{names.get(a)} → {names.get(b)} ({label})" for a, b, label in back]
    return ["These automatic moves form a loop with no condition: " + "; ".join(steps)
            + ". The loop guard will stop it, but deals will bounce between these stages."]
