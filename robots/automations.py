"""Event automations: create, change, delete and list them and their actions (robots they own), and read their
executions; everything validated on save."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kanban import clock
from kanban.domain_events import EVENT_TYPES, DomainEvent
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import N_, _
from kanban.models import Pipeline, User
from robots import config
from robots.conditions import validate as validate_condition
from robots.models import Automation, AutomationExecution, Robot, RobotRun
from robots.scheduling import PENDING

# The events API.md names (kanban.domain_events.EVENT_TYPES also has *.deleted of activities, persons, orgs).
EVENTS = ("deal.created", "deal.updated", "deal.deleted", "deal.assigned", "deal.unassigned", "deal.commented",
          "deal.status_changed", "deal.stage_changed", "activity.created", "activity.updated", "activity.completed",
          "person.created", "person.updated", "organization.created", "organization.updated", "email.received")
assert set(EVENTS) <= set(EVENT_TYPES)
EDITABLE = ("name", "description", "event", "pipeline_id", "condition", "fields", "triggered_by", "active")
DISABLED = N_("the automation was turned off before the action was due")


def get_automation(session: Session, automation_id: int) -> Automation:
    """Load an automation or raise NotFoundError."""
    automation = session.get(Automation, automation_id)
    if automation is None:
        raise NotFoundError(_("automation %(automation_id)s not found", automation_id=automation_id))
    return automation


def list_automations(session: Session) -> list[Automation]:
    """Every automation, oldest first."""
    return list(session.scalars(select(Automation).order_by(Automation.id)))


def create_automation(session: Session, data: Any, *, owner_id: int | None) -> Automation:
    """Validate and add an automation (active unless told otherwise); its actions are added after."""
    data = _object(data)
    draft = {"description": "", "pipeline_id": None, "condition": None, "fields": [], "triggered_by": None,
             "active": True, **data}
    clean = _clean(session, draft, set(data))
    now = clock.now()
    automation = Automation(owner_id=owner_id, created_at=now, updated_at=now, **clean)
    session.add(automation)
    session.flush()
    return automation


def update_automation(session: Session, automation_id: int, data: Any) -> Automation:
    """Change the given fields; turning an automation off cancels its pending runs."""
    automation = get_automation(session, automation_id)
    data = _object(data)
    draft = {name: getattr(automation, name) for name in EDITABLE}
    draft.update(data)
    clean = _clean(session, draft, set(data))
    was_active = automation.active
    for name, value in clean.items():
        setattr(automation, name, value)
    automation.updated_at = clock.now()
    if was_active and not automation.active:
        cancel_pending(session, automation.id, DISABLED)
    session.flush()
    return automation


def delete_automation(session: Session, automation_id: int) -> None:
    """Delete an automation with its actions, executions and their runs."""
    session.delete(get_automation(session, automation_id))
    session.flush()


def cancel_pending(session: Session, automation_id: int, reason: str) -> int:
    """Cancel the scheduled and waiting runs of an automation's executions; returns how many."""
    executions = select(AutomationExecution.id).where(AutomationExecution.automation_id == automation_id)
    result = session.execute(
        update(RobotRun).where(RobotRun.execution_id.in_(executions), RobotRun.status.in_(PENDING))
        .values(status="cancelled", reason=reason, finished_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def owner(session: Session, automation_id: int) -> config.Owner:
    """The robots' owner record of an automation."""
    automation = get_automation(session, automation_id)
    return config.Owner(automation_id=automation.id, pipeline_id=automation.pipeline_id)


def actions(session: Session, automation_id: int) -> list[Robot]:
    """An automation's actions in execution order."""
    return owner(session, automation_id).robots(session)


def add_action(session: Session, automation_id: int, data: Any) -> config.SaveResult:
    """Add an action (a robot body); unless told otherwise it waits for the one above (Pipedrive: top to bottom)."""
    data = _object(data)
    return config.add_robot(session, owner(session, automation_id), {"after_previous": True, **data})


def reorder_actions(session: Session, automation_id: int, ids: Any) -> list[Robot]:
    """Set the order of an automation's actions."""
    return config.reorder(session, owner(session, automation_id), ids)


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError(_("an automation is a JSON object"), {"body": _("expected an object")})
    return data


def _clean(session: Session, draft: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """Validated values of a full draft, or ValidationError naming every bad field."""
    errors = {name: _("unknown field") for name in sorted(given - set(EDITABLE))}
    name, description = draft.get("name"), draft.get("description")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        errors["name"] = _("name is required, at most 120 characters")
    if not isinstance(description, str) or len(description) > 200:
        errors["description"] = _("description is a text of at most 200 characters")
    if draft.get("event") not in EVENTS:
        errors["event"] = _("event is one of %(events)s", events=', '.join(EVENTS))
    pipeline_id = draft.get("pipeline_id")
    if pipeline_id is not None and (not isinstance(pipeline_id, int) or session.get(Pipeline, pipeline_id) is None):
        errors["pipeline_id"] = _("unknown pipeline")
    condition = draft.get("condition") or None
    errors.update(validate_condition(condition) if condition else {})
    fields = draft.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        errors["fields"] = _("fields is a list of field names")
    elif fields and draft.get("event") != "deal.updated":
        errors["fields"] = _("fields only applies to deal.updated")
    triggered_by = _triggered_by(session, draft.get("triggered_by"), errors)
    if not isinstance(draft.get("active"), bool):
        errors["active"] = _("true or false")
    if errors:
        raise ValidationError(_("invalid automation"), errors)
    return {"name": name.strip(), "description": description, "event": draft["event"], "pipeline_id": pipeline_id,
            "condition": condition, "fields": fields, "triggered_by": triggered_by, "active": draft["active"]}


def _triggered_by(session: Session, value: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    if value in (None, {}):
        return None
    if not isinstance(value, dict) or set(value) - {"user_ids", "automatic"}:
        errors["triggered_by"] = _('triggered_by is {"user_ids": [...], "automatic"?: bool}')
        return None
    ids = value.get("user_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        errors["triggered_by.user_ids"] = _("a list of user ids")
        return None
    known = set(session.scalars(select(User.id).where(User.id.in_(ids), User.role != "system")))
    if set(ids) - known:
        errors["triggered_by.user_ids"] = _("unknown users: %(known)s", known=sorted(set(ids) - known))
    automatic = value.get("automatic", False)
    if not isinstance(automatic, bool):
        errors["triggered_by.automatic"] = _("true or false")
    return {"user_ids": ids, "automatic": automatic}


def automation_view(automation: Automation) -> dict[str, Any]:
    """The API shape of an automation."""
    return {
        "id": automation.id, "name": automation.name, "description": automation.description,
        "event": automation.event, "pipeline_id": automation.pipeline_id, "condition": automation.condition,
        "fields": list(automation.fields or []), "triggered_by": automation.triggered_by,
        "active": automation.active, "owner_id": automation.owner_id,
        "created_at": automation.created_at.isoformat() if automation.created_at else None,
    }


def execution_status(execution: AutomationExecution, runs: list[RobotRun]) -> str:
    """blocked (loop guard) | failed (an action failed) | running (actions pending) | done."""
    if execution.status == "blocked":
        return "blocked"
    statuses = {r.status for r in runs}
    if "failed" in statuses:
        return "failed"
    if statuses & {"scheduled", "waiting", "running"}:
        return "running"
    return "done"


def executions(session: Session, automation_id: int, *, limit: int = 50,
               before_id: int | None = None) -> list[tuple[AutomationExecution, DomainEvent | None, list[RobotRun]]]:
    """An automation's executions, newest first, each with its event and its runs in order."""
    stmt = select(AutomationExecution).where(AutomationExecution.automation_id == automation_id)
    if before_id is not None:
        stmt = stmt.where(AutomationExecution.id < before_id)
    rows = list(session.scalars(stmt.order_by(AutomationExecution.id.desc()).limit(limit)))
    ids = [e.id for e in rows]
    events = {e.id: e for e in session.scalars(select(DomainEvent).where(DomainEvent.id.in_({r.event_id
                                                                                             for r in rows})))}
    runs: dict[int, list[RobotRun]] = {i: [] for i in ids}
    for run in session.scalars(select(RobotRun).where(RobotRun.execution_id.in_(ids))
                               .order_by(RobotRun.position, RobotRun.id)):
        runs[run.execution_id or 0].append(run)
    return [(e, events.get(e.event_id), runs[e.id]) for e in rows]


def stats(session: Session) -> dict[int, dict[str, Any]]:
    """Per automation: when it last ran and how many of its runs failed (the list page)."""
    last = dict(session.execute(select(AutomationExecution.automation_id, func.max(AutomationExecution.created_at))
                                .group_by(AutomationExecution.automation_id)).all())
    failed = dict(session.execute(
        select(AutomationExecution.automation_id, func.count(RobotRun.id))
        .join(RobotRun, RobotRun.execution_id == AutomationExecution.id).where(RobotRun.status == "failed")
        .group_by(AutomationExecution.automation_id)).all())
    return {a: {"last_run": last.get(a), "failures": failed.get(a, 0)} for a in set(last) | set(failed)}
