"""Robot configuration: create, update, delete and reorder the robots of a stage or of an automation (their two
owners), validating everything on save."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import pydantic
from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, company
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Deal, Pipeline, Stage
from kanban.registry import settings_errors
from kanban.services.pipelines import get_stage
from robots import references, scheduling
from robots.conditions import validate as validate_condition
from robots.cycles import cycle_warnings
from robots.email_templates import EmailTemplate
from robots.models import Automation, Robot, RobotRun
from robots.registry import RobotKind, load_kinds

# A key is used as `robots.<key>.<output>` inside templates, so it must be a plain identifier.
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DELAY_TYPES = ("now", "after", "before_field", "after_field", "at_time", "business_days")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
MAX_DELAY_SECONDS = 10 * 366 * 24 * 3600
EDITABLE = ("name", "key", "settings", "delay", "condition", "after_previous", "active")


@dataclass(frozen=True)
class Owner:
    """Who a robot belongs to: a stage, or an automation (pipeline_id: where change_stage targets may be)."""

    stage_id: int | None = None
    automation_id: int | None = None
    pipeline_id: int | None = None

    def robots(self, session: Session) -> list[Robot]:
        """The owner's robots in execution order."""
        column = Robot.stage_id if self.stage_id is not None else Robot.automation_id
        owner_id = self.stage_id if self.stage_id is not None else self.automation_id
        return list(session.scalars(select(Robot).where(column == owner_id).order_by(Robot.position, Robot.id)))


def owner_of(session: Session, robot: Robot) -> Owner:
    """The owner of a stored robot."""
    if robot.stage_id is not None:
        stage = get_stage(session, robot.stage_id)
        return Owner(stage_id=stage.id, pipeline_id=stage.pipeline_id)
    automation = session.get(Automation, robot.automation_id)
    return Owner(automation_id=robot.automation_id, pipeline_id=automation.pipeline_id if automation else None)


@dataclass
class SaveResult:
    """A saved robot and the warnings its configuration raises (e.g. an unconditional stage cycle)."""

    robot: Robot
    warnings: list[str] = field(default_factory=list)


def kind_class(kind: Any) -> type[RobotKind]:
    """The registered class of a kind, or ValidationError on `kind`."""
    registry = load_kinds()
    if not isinstance(kind, str) or kind not in registry:
        raise ValidationError(_("unknown robot kind"), {"kind": _("unknown kind; one of: %(keys)s",
                                                                   keys=', '.join(registry.keys()))})
    return registry.get(kind)


def stage_robots(session: Session, stage_id: int) -> list[Robot]:
    """A stage's robots in execution order."""
    return Owner(stage_id=stage_id).robots(session)


def get_robot(session: Session, robot_id: int) -> Robot:
    """Load a robot or raise NotFoundError."""
    robot = session.get(Robot, robot_id)
    if robot is None:
        raise NotFoundError(_("robot %(robot_id)s not found", robot_id=robot_id))
    return robot


def create_robot(session: Session, stage_id: int, data: Any, saved_by: int | None = None) -> SaveResult:
    """Add a robot at the end of a stage's list (`saved_by`: the admin saving it, its owner for `send_as`)."""
    stage = get_stage(session, stage_id)
    return add_robot(session, Owner(stage_id=stage.id, pipeline_id=stage.pipeline_id), data, saved_by)


def add_robot(session: Session, owner: Owner, data: Any, saved_by: int | None = None) -> SaveResult:
    """Add a robot at the end of its owner's list (a stage's robots, an automation's actions)."""
    data = _object(data)
    cls = kind_class(data.get("kind"))
    siblings = owner.robots(session)
    unknown = sorted(set(data) - set(EDITABLE) - {"kind"})
    draft = {"kind": cls.kind, "after_previous": False, "active": True, "delay": {"type": "now"}, **data}
    clean, errors = _clean(session, owner, cls, draft, siblings, None)
    errors.update({name: "unknown field" for name in unknown})
    if errors:
        raise ValidationError(_("invalid robot"), errors)
    top = max((r.position for r in siblings), default=-1)
    robot = Robot(stage_id=owner.stage_id, automation_id=owner.automation_id, kind=cls.kind, position=top + 1,
                  saved_by_id=saved_by, **clean)
    if cls.has_secret:
        robot.secret = new_secret()
    session.add(robot)
    session.flush()
    return SaveResult(robot, _warnings(session, owner, robot))


def update_robot(session: Session, robot_id: int, data: Any, saved_by: int | None = None) -> SaveResult:
    """Change a robot; every field given replaces the stored one (settings as a whole). `saved_by` (the admin
    saving it) becomes its owner for `send_as`."""
    robot = get_robot(session, robot_id)
    owner = owner_of(session, robot)
    data = _object(data)
    errors: dict[str, str] = {}
    if "kind" in data and data["kind"] != robot.kind:
        errors["kind"] = _("a robot's kind cannot change: add a new robot instead")
    errors.update({name: "unknown field" for name in sorted(set(data) - set(EDITABLE) - {"kind"})})
    draft = {name: getattr(robot, name) for name in EDITABLE}
    draft.update({k: v for k, v in data.items() if k in EDITABLE})
    cls = kind_class(robot.kind)
    siblings = owner.robots(session)
    clean, more = _clean(session, owner, cls, draft, siblings, robot)
    errors.update(more)
    if errors:
        raise ValidationError(_("invalid robot"), errors)
    before = {name: getattr(robot, name) for name in clean}
    for name, value in clean.items():
        setattr(robot, name, value)
    try:
        _check_stage(siblings, "this change breaks another robot")
    except ValidationError:
        # Leave the row as it was even if the caller goes on to commit.
        for name, value in before.items():
            setattr(robot, name, value)
        raise
    if saved_by is not None:
        robot.saved_by_id = saved_by
    session.flush()
    return SaveResult(robot, _warnings(session, owner, robot))


def delete_robot(session: Session, robot_id: int) -> None:
    """Delete a robot unless a robot below uses its outputs; later robots move up."""
    robot = get_robot(session, robot_id)
    rest = [r for r in owner_of(session, robot).robots(session) if r.id != robot.id]
    _check_stage(rest, f"cannot delete “{robot.name}”")
    _release_waiting(session, robot)
    session.delete(robot)
    _renumber(rest)
    session.flush()


def validate_draft(session: Session, owner: Owner, cls: type[RobotKind], draft: dict[str, Any],
                   siblings: list[Robot], robot: Robot) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a full draft of `robot` among `siblings` (unsaved rows are fine): clean values and field errors."""
    return _clean(session, owner, cls, draft, siblings, robot)


def check_order(ordered: list[Robot]) -> None:
    """Refuse an order of robots in which a template refers to a robot that is no longer reachable."""
    _check_stage(ordered, "this order breaks a reference")


def release_waiting(session: Session, robot: Robot) -> None:
    """Before a robot is deleted: its waiting followers are scheduled now (see _release_waiting)."""
    _release_waiting(session, robot)


def _release_waiting(session: Session, robot: Robot) -> None:
    """Runs waiting for a pending run of a robot being deleted would wait forever: schedule them now."""
    pending = session.scalars(select(RobotRun).where(RobotRun.robot_id == robot.id,
                                                     RobotRun.status.in_(scheduling.PENDING)))
    now = clock.now()
    for run in pending:
        nxt = session.scalars(select(RobotRun).where(scheduling.same_group(run), RobotRun.position > run.position)
                              .order_by(RobotRun.position, RobotRun.id).limit(1)).first()
        deal = session.get(Deal, run.deal_id) if run.deal_id is not None else None
        if nxt is None or nxt.status != "waiting" or (run.deal_id is not None and scheduling.left_stage(run, deal)):
            continue
        follower = session.get(Robot, nxt.robot_id)
        nxt.status, nxt.due_at = "scheduled", scheduling.due_at(follower.delay if follower else None, deal, now)
        if nxt.due_at <= now:
            scheduling.send_after_commit(session, [nxt])


def reorder_robots(session: Session, stage_id: int, ids: Any) -> list[Robot]:
    """Set the order of a stage's robots; refused if it breaks an output reference."""
    get_stage(session, stage_id)
    return reorder(session, Owner(stage_id=stage_id), ids)


def reorder(session: Session, owner: Owner, ids: Any) -> list[Robot]:
    """Set the order of an owner's robots; refused if it breaks an output reference."""
    robots = {r.id: r for r in owner.robots(session)}
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError(_("ids must be a list of robot ids"), {"ids": _("a list of robot ids")})
    if sorted(ids) != sorted(robots):
        raise ValidationError(_("ids must list every robot once"), {"ids": _("wrong set of robots")})
    ordered = [robots[i] for i in ids]
    _check_stage(ordered, "this order breaks a reference", field_name="ids")
    _renumber(ordered)
    session.flush()
    return ordered


def move_robot(session: Session, robot_id: int, delta: int) -> list[Robot]:
    """Move a robot one place up (-1) or down (+1): the no-JS reorder."""
    robot = get_robot(session, robot_id)
    owner = owner_of(session, robot)
    robots = owner.robots(session)
    i = robots.index(robot)
    j = max(0, min(len(robots) - 1, i + delta))
    robots[i], robots[j] = robots[j], robots[i]
    return reorder(session, owner, [r.id for r in robots])


def new_secret() -> str:
    """A fresh Standard Webhooks secret (whsec_ + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def rotate_secret(session: Session, robot_id: int) -> tuple[Robot, str]:
    """Give a signing robot (webhook) a new secret, returned once; the old one stops signing at once."""
    robot = get_robot(session, robot_id)
    if not kind_class(robot.kind).has_secret:
        raise ValidationError(_("this robot has no secret"), {"kind": _("only webhook robots sign their requests")})
    robot.secret = new_secret()
    session.flush()
    return robot, robot.secret


def robot_view(robot: Robot, warnings: list[str] | None = None) -> dict[str, Any]:
    """The API shape of a robot."""
    view = {
        "id": robot.id, "stage_id": robot.stage_id, "automation_id": robot.automation_id, "kind": robot.kind,
        "name": robot.name, "key": robot.key,
        "settings": robot.settings, "delay": robot.delay, "condition": robot.condition,
        "after_previous": robot.after_previous, "active": robot.active, "position": robot.position,
    }
    if warnings is not None:
        view["warnings"] = warnings
    return view


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(_("a robot is a JSON object"), {"body": _("expected an object")})
    return data


def _renumber(robots: list[Robot]) -> None:
    for i, robot in enumerate(robots):
        robot.position = i


def _clean(session: Session, owner: Owner, cls: type[RobotKind], draft: dict[str, Any], siblings: list[Robot],
           robot: Robot | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a full draft of a robot; returns clean values and field errors."""
    errors: dict[str, str] = {}
    others = [r for r in siblings if robot is None or r.id != robot.id]
    above = others if robot is None else [r for r in others if r.position < robot.position]
    clean: dict[str, Any] = {
        "name": _name(draft.get("name"), cls, errors),
        "key": _key(draft.get("key"), cls, others, errors),
        "delay": clean_delay(draft.get("delay"), errors),
        "condition": _condition(draft.get("condition"), errors),
        "after_previous": _flag(draft.get("after_previous"), "after_previous", errors),
        "active": _flag(draft.get("active"), "active", errors),
    }
    settings = _settings(cls, draft.get("settings"), errors)
    clean["settings"] = settings
    if settings is not None:
        _check_target_stage(session, owner, cls, settings, errors)
        _check_email_template(session, settings, errors)
        chain = references.reachable(above, bool(clean["after_previous"]))
        for path, message in references.template_errors(cls, settings, chain, above).items():
            errors.setdefault(f"settings.{path}", message)
    chain = references.reachable(above, bool(clean["after_previous"]))
    for path, message in references.condition_errors(clean["condition"], chain, above).items():
        errors.setdefault(path, message)
    return clean, errors


def _name(value: Any, cls: type[RobotKind], errors: dict[str, str]) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return cls.title
    if not isinstance(value, str) or len(value) > 200:
        errors["name"] = _("name is a text of at most 200 characters")
        return ""
    return value.strip()


def _key(value: Any, cls: type[RobotKind], others: list[Robot], errors: dict[str, str]) -> str:
    taken = {r.key for r in others}
    if value is None or value == "":
        n = 1
        while f"{cls.kind}_{n}" in taken:
            n += 1
        return f"{cls.kind}_{n}"
    if not isinstance(value, str) or not KEY_RE.match(value):
        errors["key"] = _("key: lowercase letters, digits and _, starting with a letter (at most 64)")
        return ""
    if value in taken:
        errors["key"] = _("another robot of this stage already has the key “%(value)s”", value=value)
    return value


def _flag(value: Any, name: str, errors: dict[str, str]) -> bool:
    if not isinstance(value, bool):
        errors[name] = _("true or false")
        return False
    return value


def _settings(cls: type[RobotKind], value: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        errors["settings"] = _("settings is an object")
        return None
    try:
        model = cls.Settings.model_validate(value)
    except pydantic.ValidationError as exc:
        for path, message in settings_errors(exc).items():
            errors.setdefault(path, message)
        return None
    return model.model_dump(mode="json")


def clean_delay(value: Any, errors: dict[str, str]) -> dict[str, Any]:
    """Validate a delay object: now | after N s | before/after a deal date field | at a time of day | in N business
    days at a time of day; the last two in `time_zone` (IANA name) when given, else the company's zone."""
    if value is None:
        return {"type": "now"}
    if not isinstance(value, dict) or value.get("type") not in DELAY_TYPES:
        errors["delay.type"] = _("delay type is one of %(delay_types)s", delay_types=', '.join(DELAY_TYPES))
        return {"type": "now"}
    kind = value["type"]
    extra = set(value) - {"type", "seconds", "field", "time", "days", "time_zone"}
    if extra:
        errors["delay"] = _("unknown delay keys: %(extra)s", extra=', '.join(sorted(extra)))
    out: dict[str, Any] = {"type": kind}
    if kind in ("after", "before_field", "after_field"):
        seconds = value.get("seconds", 0)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_DELAY_SECONDS:
            errors["delay.seconds"] = _("seconds is a whole number ≥ 0 (at most ten years)")
        out["seconds"] = seconds
    if kind in ("before_field", "after_field"):
        name = value.get("field")
        if not isinstance(name, str) or not FIELD_RE.match(name):
            errors["delay.field"] = _("choose a deal date field")
        out["field"] = name
    if kind in ("at_time", "business_days"):
        at = value.get("time")
        if not isinstance(at, str) or not TIME_RE.match(at):
            errors["delay.time"] = _("time of day is HH:MM (24 h)")
        out["time"] = at
        zone = value.get("time_zone")
        if zone not in (None, ""):
            if not isinstance(zone, str) or zone not in company.zone_names():
                errors["delay.time_zone"] = _("an IANA time zone name such as Europe/Paris")
            out["time_zone"] = zone
    if kind == "business_days":
        days = value.get("days", 0)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 2600:
            errors["delay.days"] = _("business days is a whole number from 0 to 2600")
        out["days"] = days
    return out


def _condition(value: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    if value in (None, {}):
        return None
    problems = validate_condition(value)
    errors.update(problems)
    return value if not problems else None


def _check_target_stage(session: Session, owner: Owner, cls: type[RobotKind], settings: dict[str, Any],
                        errors: dict[str, str]) -> None:
    # A kind cannot see the database; the configuration layer checks that a stage target exists.
    if cls.kind == "create_deal":
        _check_new_deal_target(session, settings, errors)
    if cls.kind != "change_stage" or "stage_id" not in settings:
        return
    target = session.get(Stage, settings["stage_id"])
    if target is None or target.archived or (owner.pipeline_id is not None
                                             and target.pipeline_id != owner.pipeline_id):
        # An automation without a pipeline may name any stage; the run checks the deal's pipeline.
        errors["settings.stage_id"] = _("choose a stage of the same pipeline")
    elif target.id == owner.stage_id:
        errors["settings.stage_id"] = _("a robot cannot move a deal to its own stage")


def _check_email_template(session: Session, settings: dict[str, Any], errors: dict[str, str]) -> None:
    # As for stages: the configuration layer, not the kind, checks that a chosen email template exists.
    template_id = settings.get("template_id")
    if template_id is not None and session.get(EmailTemplate, template_id) is None:
        errors["settings.template_id"] = _("no email template %(template_id)s", template_id=template_id)


def _check_new_deal_target(session: Session, settings: dict[str, Any], errors: dict[str, str]) -> None:
    if session.get(Pipeline, settings.get("pipeline_id")) is None:
        errors["settings.pipeline_id"] = _("choose a pipeline")
        return
    stage_id = settings.get("stage_id")
    if stage_id is not None:
        target = session.get(Stage, stage_id)
        if target is None or target.archived or target.pipeline_id != settings["pipeline_id"]:
            errors["settings.stage_id"] = _("choose a stage of that pipeline")


def _check_stage(ordered: list[Robot], message: str, field_name: str | None = None) -> None:
    """Refuse an order of robots in which a template refers to a robot that is no longer reachable."""
    problems = references.stage_problems(ordered, kind_class)
    if problems:
        key, text = problems[0]
        raise ValidationError(_("%(message)s: %(text)s",
                                 message=message, text=text), {field_name or f"robots.{key}": text})


def _warnings(session: Session, owner: Owner, robot: Robot) -> list[str]:
    if robot.kind != "change_stage" or not robot.active or owner.stage_id is None or owner.pipeline_id is None:
        return []
    return cycle_warnings(session, owner.pipeline_id, robot)
