"""Pipeline and stage use cases: create, rename, reorder, delete with a destination."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor
from kanban.models import Deal, Pipeline, Stage
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


_UNSET: Any = object()


def _percent_and_days(stage: Stage, probability: Any, rotting_days: Any, errors: dict[str, str]) -> None:
    if probability is not _UNSET:
        if not isinstance(probability, int) or isinstance(probability, bool) or not 0 <= probability <= 100:
            errors["probability"] = "probability is a whole percent from 0 to 100"
        else:
            stage.probability = probability
    if rotting_days is not _UNSET:
        if rotting_days is not None and (not isinstance(rotting_days, int) or isinstance(rotting_days, bool)
                                         or not 1 <= rotting_days <= 3650):
            errors["rotting_days"] = "rotting_days is a number of days from 1 to 3650, or null for never"
        else:
            stage.rotting_days = rotting_days


def update_stage(session: Session, stage_id: int, *, name: str | None = None, kind: str | None = None,
                 probability: Any = _UNSET, rotting_days: Any = _UNSET) -> Stage:
    """Rename a stage, change its kind, win probability (0-100) or rotting days (None = never)."""
    stage = get_stage(session, stage_id)
    errors: dict[str, str] = {}
    _percent_and_days(stage, probability, rotting_days, errors)
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


def update_pipeline(session: Session, pipeline_id: int, *, name: str | None = None,
                    lost_reason_required: bool | None = None) -> Pipeline:
    """Rename a pipeline or say whether marking a deal lost needs a reason."""
    pipeline = get_pipeline(session, pipeline_id)
    errors: dict[str, str] = {}
    if name is not None:
        pipeline.name = _name(name, "name", errors)
    if lost_reason_required is not None:
        if not isinstance(lost_reason_required, bool):
            errors["lost_reason_required"] = "true or false"
        else:
            pipeline.lost_reason_required = lost_reason_required
    if errors:
        raise ValidationError("invalid pipeline", errors)
    session.flush()
    return pipeline


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
