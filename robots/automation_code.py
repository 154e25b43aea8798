"""Robots and automations in the automation document (kanban.automation_code): export with stable references
(stage and pipeline names, user emails, department and email-template names) and apply a document's list to a
stage or an automation, validated as a whole before anything is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.automation_code import Refs, Section
from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.models import Stage
from robots import automations, config
from robots.email_templates import EmailTemplate
from robots.models import Automation, Robot

ROBOT_FIELDS = ("key", "kind", "name", "settings", "delay", "condition", "after_previous", "active")
AUTOMATION_FIELDS = ("name", "description", "event", "condition", "fields", "triggered_by", "active", "robots")
USER_FIELDS = {"author_id": "author", "sender_id": "sender"}
RECIPIENT_TYPES = ("user", "role", "department", "responsible", "supervisor", "everyone")


def _to_doc(kind: str, settings: dict[str, Any], refs: Refs, templates: dict[int, str]) -> dict[str, Any]:
    """Settings with ids replaced by names (the document form)."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name in USER_FIELDS:
            out[USER_FIELDS[name]] = refs.user_email(value) if value is not None else None
        elif name == "responsible" and kind == "create_document":
            out[name] = refs.user_email(value) if value is not None else None
        elif name == "users" and kind == "change_responsible" and isinstance(value, list):
            out[name] = [refs.user_email(v) for v in value]
        elif name == "pipeline_id":
            out["pipeline"] = refs.pipeline_name(value)
        elif name == "stage_id":
            out["stage"] = refs.stage_name(value) if value is not None else None
        elif name == "template_id":
            out["template"] = templates.get(value, value) if value is not None else None
        else:
            out[name] = _recipients_to_doc(value, refs)
    return out


def _recipients_to_doc(value: Any, refs: Refs) -> Any:
    if isinstance(value, list):
        return [_recipients_to_doc(v, refs) for v in value]
    if not isinstance(value, dict) or value.get("type") not in RECIPIENT_TYPES:
        return value
    # A recipient: its unset keys left out, a user by email and a department by name.
    out = {k: v for k, v in value.items() if v is not None and k != "id"}
    if value.get("type") == "user" and value.get("id") is not None:
        out["user"] = refs.user_email(value["id"])
    if value.get("type") == "department" and value.get("id") is not None:
        out["department"] = refs.department_name(value["id"])
    return out


def _from_doc(kind: str, settings: Any, refs: Refs, session: Session, errors: dict[str, str]) -> Any:
    """Settings of the document with names turned back into ids; unknown names are errors on their path."""
    if not isinstance(settings, dict):
        return settings
    out: dict[str, Any] = {}
    back = {v: k for k, v in USER_FIELDS.items()}
    for name, value in settings.items():
        if name in back or (name == "responsible" and kind == "create_document"):
            out[back.get(name, name)] = _user(refs, value, f"settings.{name}", errors)
        elif name == "users" and kind == "change_responsible" and isinstance(value, list):
            out[name] = [_user(refs, v, f"settings.users[{i}]", errors) for i, v in enumerate(value)]
        elif name == "pipeline":
            out["pipeline_id"] = refs.pipeline_by_name(value)
            if out["pipeline_id"] is None:
                errors["settings.pipeline"] = _("no pipeline named “%(value)s”", value=value)
        elif name == "stage":
            pipeline = out.get("pipeline_id") if "pipeline" in settings else None
            out["stage_id"] = None if value is None else refs.stage_id(value, pipeline)
            if value is not None and out["stage_id"] is None:
                errors["settings.stage"] = _("no stage named “%(value)s” in that pipeline", value=value)
        elif name == "template":
            found = session.scalar(select(EmailTemplate.id).where(EmailTemplate.name == value))
            if value is not None and found is None:
                errors["settings.template"] = _("no email template named “%(value)s”", value=value)
            out["template_id"] = found
        else:
            out[name] = _recipients_from_doc(value, refs, f"settings.{name}", errors)
    return out


def _user(refs: Refs, value: Any, path: str, errors: dict[str, str]) -> Any:
    if value is None:
        return None
    found = refs.user_id(value)
    if found is None:
        errors[path] = _("no user with the email “%(value)s”", value=value)
    return found


def _recipients_from_doc(value: Any, refs: Refs, path: str, errors: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_recipients_from_doc(v, refs, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if isinstance(value, dict) and value.get("type") == "user" and "user" in value:
        rest = {k: v for k, v in value.items() if k != "user"}
        return {**rest, "id": _user(refs, value["user"], f"{path}.user", errors)}
    if isinstance(value, dict) and value.get("type") == "department" and "department" in value:
        found = refs.department_id(value["department"])
        if found is None:
            errors[f"{path}.department"] = _("no department named “%(value)s”", value=value['department'])
        return {**{k: v for k, v in value.items() if k != "department"}, "id": found}
    return value


def _robot_rows(session: Session, column: Any, owner_id: int) -> list[Any]:
    return list(session.execute(select(*Robot.__table__.c).where(column == owner_id)
                                .order_by(Robot.position, Robot.id)).mappings())


def export_robots(session: Session, owner_id: int, refs: Refs, *, column: Any = Robot.stage_id) -> list[dict[str, Any]]:
    """A stage's (or an automation's) robots in order, as document items."""
    templates = {r[0]: r[1] for r in session.execute(select(EmailTemplate.id, EmailTemplate.name))}
    return [{"key": r["key"], "kind": r["kind"], "name": r["name"],
             "settings": _to_doc(r["kind"], dict(r["settings"] or {}), refs, templates),
             "delay": r["delay"] or {"type": "now"}, "condition": r["condition"],
             "after_previous": bool(r["after_previous"]), "active": bool(r["active"])}
            for r in _robot_rows(session, column, owner_id)]


def apply_robots(session: Session, owner: config.Owner, items: list[Any], refs: Refs,
                 default_after_previous: bool = False) -> None:
    """Make an owner's robots the document's list: validate every item against the list's own order, then
    delete, change and add rows (existing robots are matched by key and kind, so their runs stay theirs)."""
    errors: dict[str, str] = {}
    drafts: list[tuple[type[Any], dict[str, Any]]] = []
    taken = {i.get("key") for i in items if isinstance(i, dict)}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"[{i}]"] = _("a robot is a mapping with key, kind, settings…")
            continue
        for name in sorted(set(item) - set(ROBOT_FIELDS), key=str):
            errors[f"[{i}].{name}"] = _("unknown key")
        try:
            cls = config.kind_class(item.get("kind"))
        except ValidationError as exc:
            errors[f"[{i}].kind"] = exc.fields.get("kind", exc.message)
            continue
        key = item.get("key")
        if key in (None, ""):
            n = 1
            while f"{cls.kind}_{n}" in taken:
                n += 1
            key = f"{cls.kind}_{n}"
            taken.add(key)
        problems: dict[str, str] = {}
        settings = _from_doc(cls.kind, item.get("settings") or {}, refs, session, problems)
        errors.update({f"[{i}].{p}": m for p, m in problems.items()})
        drafts.append((cls, {"after_previous": default_after_previous, "active": True, "delay": {"type": "now"},
                             "condition": None, **{k: v for k, v in item.items() if k in ROBOT_FIELDS},
                             "key": key, "settings": settings, "_index": i}))
    transient = [Robot(id=-n - 1, kind=cls.kind, key=d["key"], name=d.get("name") or cls.title, settings=d["settings"],
                       after_previous=d["after_previous"] is True, position=n) for n, (cls, d) in enumerate(drafts)]
    cleaned = []
    for n, (cls, draft) in enumerate(drafts):
        clean, problems = config.validate_draft(session, owner, cls, draft, transient, transient[n])
        errors.update({f"[{draft['_index']}].{p}": m for p, m in problems.items()})
        cleaned.append((cls, clean))
    keys = [c["key"] for _, c in cleaned]
    for n, key in enumerate(keys):
        if key in keys[:n]:
            errors[f"[{drafts[n][1]['_index']}].key"] = _("the key “%(key)s” is used twice", key=key)
    if errors:
        raise ValidationError(_("invalid robots"), errors)
    _write(session, owner, cleaned)


def _write(session: Session, owner: config.Owner, cleaned: list[tuple[type[Any], dict[str, Any]]]) -> None:
    existing = {r.key: r for r in owner.robots(session)}
    wanted = {clean["key"]: cls.kind for cls, clean in cleaned}
    for key, robot in existing.items():
        if wanted.get(key) != robot.kind:
            config.release_waiting(session, robot)
            session.delete(robot)
    session.flush()  # deletes first: a re-added key must not meet its old row
    ordered = []
    for position, (cls, clean) in enumerate(cleaned):
        robot = existing.get(clean["key"])
        if robot is None or robot.kind != cls.kind:
            robot = Robot(stage_id=owner.stage_id, automation_id=owner.automation_id, kind=cls.kind,
                          position=position, **clean)
            if cls.has_secret:  # like a robot made in the form: it signs with a new secret (rotate to see it)
                robot.secret = config.new_secret()
            session.add(robot)
        else:
            for name, value in {**clean, "position": position}.items():
                if getattr(robot, name) != value:
                    setattr(robot, name, value)
        ordered.append(robot)
    session.flush()
    config.check_order(ordered)


def apply_stage_robots(session: Session, stage_id: int, items: list[Any], refs: Refs) -> None:
    """The robots section of one stage."""
    apply_robots(session, config.Owner(stage_id=stage_id, pipeline_id=refs.pipeline_id), items, refs)


def export_automations(session: Session, pipeline_id: int, refs: Refs) -> list[dict[str, Any]]:
    """The pipeline's automations (oldest first) with their actions."""
    rows = session.execute(select(*Automation.__table__.c).where(Automation.pipeline_id == pipeline_id)
                           .order_by(Automation.id)).mappings()
    out = []
    for a in rows:
        triggered = a["triggered_by"]
        if triggered:
            triggered = {"users": [refs.user_email(u) for u in triggered.get("user_ids") or []],
                         "automatic": bool(triggered.get("automatic"))}
        out.append({"name": a["name"], "description": a["description"] or "", "event": a["event"],
                    "condition": a["condition"], "fields": list(a["fields"] or []), "triggered_by": triggered,
                    "active": bool(a["active"]),
                    "robots": export_robots(session, a["id"], refs, column=Robot.automation_id)})
    return out


def apply_automations(session: Session, pipeline_id: int, items: list[Any], refs: Refs) -> None:
    """Make the pipeline's automations the document's list (matched by name)."""
    errors: dict[str, str] = {}
    existing = {a.name: a for a in session.scalars(select(Automation).where(Automation.pipeline_id == pipeline_id))}
    names = [i.get("name") for i in items if isinstance(i, dict)]
    for name, automation in existing.items():
        if name not in names:
            automations.delete_automation(session, automation.id)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"[{i}]"] = _("an automation is a mapping with name, event, robots…")
            continue
        if names.count(item.get("name")) > 1:
            errors[f"[{i}].name"] = _("the name “%(name)s” is used twice", name=item.get('name'))
            continue
        for name in sorted(set(item) - set(AUTOMATION_FIELDS), key=str):
            errors[f"[{i}].{name}"] = _("unknown key")
        data = {k: v for k, v in item.items() if k in AUTOMATION_FIELDS and k != "robots"}
        data["pipeline_id"] = pipeline_id
        data["triggered_by"] = _triggered_from_doc(item.get("triggered_by"), refs, f"[{i}].triggered_by", errors)
        try:
            automation = existing.get(item.get("name"))
            if automation is None:
                automation = automations.create_automation(session, data, owner_id=None)
            else:
                automations.update_automation(session, automation.id, data)
            owner = config.Owner(automation_id=automation.id, pipeline_id=pipeline_id)
            robots = item.get("robots") or []
            if not isinstance(robots, list):
                raise ValidationError(_("invalid robots"), {"robots": _("robots is a list")})
            apply_robots(session, owner, robots, refs, default_after_previous=True)
        except ValidationError as exc:
            for path, message in (exc.fields or {"name": exc.message}).items():
                errors[f"[{i}].{path}" if not path.startswith("[") else f"[{i}].robots{path}"] = message
    if errors:
        raise ValidationError(_("invalid automations"), errors)


def _triggered_from_doc(value: Any, refs: Refs, path: str, errors: dict[str, str]) -> Any:
    if not isinstance(value, dict) or "users" not in value:
        return value
    ids = [_user(refs, v, f"{path}.users[{n}]", errors) for n, v in enumerate(value.get("users") or [])]
    return {"user_ids": [i for i in ids if i is not None], "automatic": value.get("automatic", False)}


def robot_pipeline(session: Session, obj: Any) -> int | None:
    """The pipeline whose document a robot or automation row belongs to."""
    if isinstance(obj, Automation):
        return obj.pipeline_id
    if obj.stage_id is not None:
        return session.scalar(select(Stage.pipeline_id).where(Stage.id == obj.stage_id))
    if obj.automation_id is not None:
        return session.scalar(select(Automation.pipeline_id).where(Automation.id == obj.automation_id))
    return None


SECTIONS = (
    Section("robots", "stage", "key", export_robots, apply_stage_robots, (Robot, Automation), robot_pipeline),
    Section("automations", "pipeline", "name", export_automations, apply_automations),
)
