"""Pipeline and stage use cases: create, rename, reorder, delete with a destination."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import policy
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor
from kanban.models import Deal, Department, Pipeline, Stage
from kanban.services.deals import move_deal

STAGE_KINDS = ("open", "won", "lost")


def _name(value: Any, field: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = "name is required"
        return ""
    if len(value) > 200:
        errors[field] = "name is at most 200 characters"
    return value.strip()


def create_pipeline(session: Session, name: str, stages: list[dict[str, Any]]) -> Pipeline:
    """Create a pipeline with its stages in order."""
    errors: dict[str, str] = {}
    clean = _name(name, "name", errors)
    if not isinstance(stages, list) or not stages:
        errors["stages"] = "a pipeline needs at least one stage"
        stages = []
    parsed = []
    for i, st in enumerate(stages):
        if not isinstance(st, dict):
            errors[f"stages.{i}"] = "a stage is an object with name and kind"
            continue
        kind = st.get("kind") or "open"
        if kind not in STAGE_KINDS:
            errors[f"stages.{i}.kind"] = "kind is open, won or lost"
        parsed.append((_name(st.get("name"), f"stages.{i}.name", errors), kind))
    if errors:
        raise ValidationError("invalid pipeline", errors)
    position = (session.scalar(select(func.max(Pipeline.position))) or 0) + 1
    pipeline = Pipeline(name=clean, position=position)
    session.add(pipeline)
    session.flush()
    for i, (stage_name, kind) in enumerate(parsed):
        session.add(Stage(pipeline_id=pipeline.id, name=stage_name, kind=kind, position=i))
    session.flush()
    session.refresh(pipeline)
    return pipeline


def get_pipeline(session: Session, pipeline_id: int) -> Pipeline:
    """Load a pipeline or raise NotFoundError."""
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFoundError(f"pipeline {pipeline_id} not found")
    return pipeline


def update_pipeline(session: Session, pipeline_id: int, changes: dict[str, Any]) -> Pipeline:
    """Rename a pipeline and/or set who sees it: visible_to "all" or a list of department ids."""
    pipeline = get_pipeline(session, pipeline_id)
    errors: dict[str, str] = {}
    unknown = set(changes) - {"name", "visible_to"}
    errors.update({k: "unknown field" for k in sorted(unknown)})
    name = _name(changes["name"], "name", errors) if "name" in changes else None
    visible = _visible_to(session, changes["visible_to"], errors) if "visible_to" in changes else None
    if errors:
        raise ValidationError("invalid pipeline", errors)
    if name is not None:
        pipeline.name = name
    if "visible_to" in changes:
        pipeline.visible_to = visible
        policy.forget_grants(session)
    session.flush()
    return pipeline


def _visible_to(session: Session, value: Any, errors: dict[str, str]) -> list[int] | None:
    if value == "all" or value is None:
        return None
    ids = value if isinstance(value, list) else []
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        errors["visible_to"] = '"all" or a list of department ids'
        return None
    known = set(session.scalars(select(Department.id).where(Department.id.in_(ids)))) if ids else set()
    missing = [i for i in ids if i not in known]
    if missing:
        errors["visible_to"] = f"unknown department {missing[0]}"
    return sorted(set(ids))


def get_stage(session: Session, stage_id: int) -> Stage:
    """Load a stage or raise NotFoundError."""
    stage = session.get(Stage, stage_id)
    if stage is None or stage.archived:
        raise NotFoundError(f"stage {stage_id} not found")
    return stage


def _stages(session: Session, pipeline_id: int) -> list[Stage]:
    return list(session.scalars(
        select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.archived.is_(False)).order_by(Stage.position)
    ))


def _renumber(stages: list[Stage]) -> None:
    for i, st in enumerate(stages):
        st.position = i


def add_stage(session: Session, pipeline_id: int, name: str, position: int | None = None,
              kind: str = "open") -> Stage:
    """Insert a stage at a position (default: last)."""
    get_pipeline(session, pipeline_id)
    errors: dict[str, str] = {}
    clean = _name(name, "name", errors)
    if kind not in STAGE_KINDS:
        errors["kind"] = "kind is open, won or lost"
    stages = _stages(session, pipeline_id)
    if position is not None and (not isinstance(position, int) or position < 0):
        errors["position"] = "position is a non-negative integer"
    if errors:
        raise ValidationError("invalid stage", errors)
    stage = Stage(pipeline_id=pipeline_id, name=clean, kind=kind)
    at = len(stages) if position is None else min(position, len(stages))
    stages.insert(at, stage)
    session.add(stage)
    _renumber(stages)
    session.flush()
    return stage


def update_stage(session: Session, stage_id: int, *, name: str | None = None, kind: str | None = None) -> Stage:
    """Rename a stage or change its kind."""
    stage = get_stage(session, stage_id)
    errors: dict[str, str] = {}
    if name is not None:
        stage.name = _name(name, "name", errors)
    if kind is not None:
        if kind not in STAGE_KINDS:
            errors["kind"] = "kind is open, won or lost"
        else:
            stage.kind = kind
    if errors:
        raise ValidationError("invalid stage", errors)
    session.flush()
    return stage


def reorder_stages(session: Session, pipeline_id: int, ids: list[int]) -> list[Stage]:
    """Set the order of a pipeline's stages; ids must be exactly its stages."""
    stages = {s.id: s for s in _stages(session, pipeline_id)}
    if sorted(ids) != sorted(stages):
        raise ValidationError("ids must list every stage of the pipeline once", {"ids": "wrong set of stages"})
    ordered = [stages[i] for i in ids]
    _renumber(ordered)
    session.flush()
    return ordered


def move_stage(session: Session, stage_id: int, delta: int) -> None:
    """Move a stage one place left (-1) or right (+1)."""
    stage = get_stage(session, stage_id)
    stages = _stages(session, stage.pipeline_id)
    i = stages.index(stage)
    j = max(0, min(len(stages) - 1, i + delta))
    stages[i], stages[j] = stages[j], stages[i]
    _renumber(stages)
    session.flush()


def stage_deal_count(session: Session, stage_id: int) -> int:
    """How many deals sit in a stage."""
    return session.scalar(select(func.count()).select_from(Deal).where(Deal.stage_id == stage_id)) or 0


def delete_stage(session: Session, stage_id: int, *, actor: Actor, move_to: int | None = None) -> None:
    """Delete a stage; its deals must be given a destination stage of the same pipeline."""
    stage = get_stage(session, stage_id)
    stages = _stages(session, stage.pipeline_id)
    if len(stages) == 1:
        raise ConflictError("a pipeline keeps at least one stage")
    count = stage_deal_count(session, stage_id)
    if count:
        if move_to is None:
            raise ValidationError(f"the stage holds {count} deals: choose where they go",
                                  {"move_to": f"choose a stage for its {count} deals"})
        dest = session.get(Stage, move_to)
        if dest is None or dest.archived or dest.pipeline_id != stage.pipeline_id or dest.id == stage.id:
            raise ValidationError("invalid destination", {"move_to": "another stage of the same pipeline"})
        for deal_id in session.scalars(select(Deal.id).where(Deal.stage_id == stage_id)).all():
            move_deal(session, deal_id, dest.id, actor=actor)
    # Archived, not deleted: stage entries and timeline rows still name it.
    stage.archived = True
    stage.position = -1
    stages.remove(stage)
    _renumber(stages)
    session.flush()
