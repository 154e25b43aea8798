"""Pipeline and stage use cases: create, rename, reorder, delete with a destination."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import policy
from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Department, Pipeline, Stage
from kanban.services.deals import move_deal

STAGE_KINDS = ("open", "won", "lost")


def _name(value: Any, field: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = _("name is required")
        return ""
    if len(value) > 200:
        errors[field] = _("name is at most 200 characters")
    return value.strip()


def create_pipeline(session: Session, name: str, stages: list[dict[str, Any]]) -> Pipeline:
    """Create a pipeline with its stages in order."""
    errors: dict[str, str] = {}
    clean = _name(name, "name", errors)
    if not isinstance(stages, list) or not stages:
        errors["stages"] = _("a pipeline needs at least one stage")
        stages = []
    parsed = []
    for i, st in enumerate(stages):
        if not isinstance(st, dict):
            errors[f"stages.{i}"] = _("a stage is an object with name and kind")
            continue
        kind = st.get("kind") or "open"
        if kind not in STAGE_KINDS:
            errors[f"stages.{i}.kind"] = _("kind is open, won or lost")
        parsed.append((_name(st.get("name"), f"stages.{i}.name", errors), kind))
    if errors:
        raise ValidationError(_("invalid pipeline"), errors)
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
        raise NotFoundError(_("pipeline %(pipeline_id)s not found", pipeline_id=pipeline_id))
    return pipeline


def update_pipeline(session: Session, pipeline_id: int, changes: dict[str, Any]) -> Pipeline:
    """Rename a pipeline, set who sees it (visible_to "all" or a list of department ids) and/or whether marking
    a deal lost needs a reason (lost_reason_required)."""
    pipeline = get_pipeline(session, pipeline_id)
    errors: dict[str, str] = {}
    unknown = set(changes) - {"name", "visible_to", "lost_reason_required"}
    errors.update({k: "unknown field" for k in sorted(unknown)})
    name = _name(changes["name"], "name", errors) if "name" in changes else None
    visible = _visible_to(session, changes["visible_to"], errors) if "visible_to" in changes else None
    required = changes.get("lost_reason_required")
    if "lost_reason_required" in changes and not isinstance(required, bool):
        errors["lost_reason_required"] = _("true or false")
    if errors:
        raise ValidationError(_("invalid pipeline"), errors)
    if name is not None:
        pipeline.name = name
    if isinstance(required, bool):
        pipeline.lost_reason_required = required
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
        errors["visible_to"] = _('"all" or a list of department ids')
        return None
    known = set(session.scalars(select(Department.id).where(Department.id.in_(ids)))) if ids else set()
    missing = [i for i in ids if i not in known]
    if missing:
        errors["visible_to"] = _("unknown department %(missing)s", missing=missing[0])
    return sorted(set(ids))


def get_stage(session: Session, stage_id: int) -> Stage:
    """Load a stage or raise NotFoundError."""
    stage = session.get(Stage, stage_id)
    if stage is None or stage.archived:
        raise NotFoundError(_("stage %(stage_id)s not found", stage_id=stage_id))
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
        errors["kind"] = _("kind is open, won or lost")
    stages = _stages(session, pipeline_id)
    if position is not None and (not isinstance(position, int) or position < 0):
        errors["position"] = _("position is a non-negative integer")
    if errors:
        raise ValidationError(_("invalid stage"), errors)
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
            errors["probability"] = _("probability is a whole percent from 0 to 100")
        else:
            stage.probability = probability
    if rotting_days is not _UNSET:
        if rotting_days is not None and (not isinstance(rotting_days, int) or isinstance(rotting_days, bool)
                                         or not 1 <= rotting_days <= 3650):
            errors["rotting_days"] = _("rotting_days is a number of days from 1 to 3650, or null for never")
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
            errors["kind"] = _("kind is open, won or lost")
        else:
            stage.kind = kind
    if errors:
        raise ValidationError(_("invalid stage"), errors)
    session.flush()
    return stage


def reorder_stages(session: Session, pipeline_id: int, ids: list[int]) -> list[Stage]:
    """Set the order of a pipeline's stages; ids must be exactly its stages."""
    stages = {s.id: s for s in _stages(session, pipeline_id)}
    if sorted(ids) != sorted(stages):
        raise ValidationError(_("ids must list every stage of the pipeline once"), {"ids": _("wrong set of stages")})
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


@dataclass(frozen=True)
class AutomationItem:
    """A robot or trigger of a stage, as a stage deletion names it (robots and triggers describe their own)."""

    type: str  # robot | trigger
    id: int
    name: str
    kind: str  # the kind's title, e.g. "Email the client"
    active: bool


# (session, stage_id) -> the stage's robots or triggers: filled from Runtime.stage_automation (core never
# imports robots/triggers).
StageAutomation = Callable[[Session, int], list[AutomationItem]]


@dataclass
class DeletionPreview:
    """What deleting a stage does: deals moved, the destination's robots they start, automation removed."""

    stage: Stage
    deals: int
    destination: Stage | None
    will_run: list[AutomationItem] = field(default_factory=list)  # active robots of the destination
    removed: list[AutomationItem] = field(default_factory=list)  # the deleted stage's robots and triggers


def _destination(session: Session, stage: Stage, move_to: int | None, count: int) -> Stage | None:
    if not count:
        return None
    if move_to is None:
        raise ValidationError(_("the stage holds %(count)s deals: choose where they go", count=count),
                              {"move_to": _("choose a stage for its %(count)s deals", count=count)})
    dest = session.get(Stage, move_to)
    if dest is None or dest.archived or dest.pipeline_id != stage.pipeline_id or dest.id == stage.id:
        raise ValidationError(_("invalid destination"), {"move_to": _("another stage of the same pipeline")})
    return dest


def deletion_preview(session: Session, stage_id: int, move_to: int | None,
                     sources: Iterable[StageAutomation]) -> DeletionPreview:
    """Say what delete_stage would do (ValidationError for a missing or wrong destination, as it does)."""
    stage = get_stage(session, stage_id)
    count = stage_deal_count(session, stage_id)
    dest = _destination(session, stage, move_to, count)
    sources = list(sources)
    removed = [item for source in sources for item in source(session, stage.id)]
    will_run = [item for source in sources for item in (source(session, dest.id) if dest else [])
                if item.type == "robot" and item.active]
    return DeletionPreview(stage, count, dest, will_run, removed)


def delete_stage(session: Session, stage_id: int, *, actor: Actor, move_to: int | None = None,
                 run_robots: bool = True) -> None:
    """Delete a stage; its deals must be given a destination stage of the same pipeline.

    run_robots=False moves them without starting the destination's robots (each timeline entry says so).
    """
    stage = get_stage(session, stage_id)
    stages = _stages(session, stage.pipeline_id)
    if len(stages) == 1:
        raise ConflictError(_("a pipeline keeps at least one stage"))
    dest = _destination(session, stage, move_to, stage_deal_count(session, stage_id))
    if dest is not None:
        note = f"stage “{stage.name}” deleted"
        for deal_id in session.scalars(select(Deal.id).where(Deal.stage_id == stage_id)).all():
            move_deal(session, deal_id, dest.id, actor=actor, run_robots=run_robots, note=note)
    # Archived, not deleted: stage entries and timeline rows still name it.
    stage.archived = True
    stage.position = -1
    stages.remove(stage)
    _renumber(stages)
    session.flush()
