"""Robots explain themselves: their run log as decisions ("Why?" on the deal page), the decisions that used to
leave no trace (a disabled robot at stage entry, an inactive or non-matching automation), and the preview of a
move ("what happens if this deal goes to X"), computed without writing or sending anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, decisions
from kanban.conditions import checks
from kanban.domain_events import DomainEvent
from kanban.errors import ValidationError
from kanban.i18n import _, ngettext
from kanban.models import Deal, Stage
from robots.claiming import event_view
from robots.conditions import evaluate, explain
from robots.models import Automation, AutomationExecution, Robot, RobotRun
from robots.scheduling import due_at
from robots.values import robot_ref, template_values

# Robot run status → decision outcome (a failed run did run: its error is the reason).
OUTCOME = {"done": "ran", "failed": "ran", "scheduled": "scheduled", "waiting": "scheduled", "running": "scheduled",
           "skipped": "skipped", "cancelled": "cancelled", "blocked": "blocked"}


def _run_reason(run: RobotRun) -> str:
    if run.status == "done":
        return _("ran") + (_(" (after %(n)s attempts)", n=run.attempts) if run.attempts > 1 else "")
    if run.status == "failed":
        return _("failed: %(error)s", error=run.error or "?")
    if run.status == "scheduled":
        return _("due at %(at)s", at=run.due_at.isoformat() if run.due_at else "?")
    if run.status == "waiting":
        return _("waits for the robot above it to finish")
    if run.status == "running":
        return _("running now")
    return run.reason or run.status


def run_decisions(session: Session, deal_id: int, since: datetime) -> list[dict[str, Any]]:
    """The deal's robot runs and automation executions as decisions (a kanban.decisions source)."""
    rows = session.execute(
        select(RobotRun, Robot.name, Automation.name).join(Robot, Robot.id == RobotRun.robot_id)
        .outerjoin(Automation, Automation.id == Robot.automation_id)
        .where(RobotRun.deal_id == deal_id, RobotRun.created_at >= since)
        .order_by(RobotRun.id.desc()).limit(decisions.cap_per_deal))
    items = []
    for run, name, owner in rows:
        values = (run.outputs or {}).get("condition_values") if run.status == "skipped" else None
        items.append({"at": run.finished_at or run.created_at, "source": "robot", "source_id": run.robot_id,
                      "name": f"{owner} › {name}" if owner else name, "outcome": OUTCOME.get(run.status, "ran"),
                      "reason": _run_reason(run),
                      "values": {k: decisions.summary(v) for k, v in (values or {}).items()}})
    executions = session.execute(
        select(AutomationExecution, Automation.name, DomainEvent.type)
        .join(Automation, Automation.id == AutomationExecution.automation_id)
        .join(DomainEvent, DomainEvent.id == AutomationExecution.event_id)
        .where(AutomationExecution.deal_id == deal_id, AutomationExecution.created_at >= since)
        .order_by(AutomationExecution.id.desc()).limit(decisions.cap_per_deal))
    for execution, name, event_type in executions:
        blocked = execution.status == "blocked"
        items.append({"at": execution.created_at, "source": "automation", "source_id": execution.automation_id,
                      "name": name, "outcome": "blocked" if blocked else "ran",
                      "reason": execution.reason if blocked else
                      _("%(event)s matched: its actions were scheduled", event=event_type),
                      "values": {}})
    return items


def record_inactive_robots(session: Session, deal_id: int, stage: Stage | None, robots: list[Robot]) -> None:
    """A deal entered a stage: say so for each of its disabled robots (they used to leave no trace)."""
    for robot in robots:
        decisions.record(session, deal_id, "robot", robot.id, robot.name, "inactive",
                         _("disabled: not run when the deal entered “%(stage)s”",
                           stage=stage.name if stage else "?"))


# --- Automations considered for an event ---------------------------------------------------------------------

def automation_verdict(session: Session, automation: Automation, event: DomainEvent, deal: Deal,
                       values: dict[str, Any] | None, *, stage_id: int | None = None
                       ) -> tuple[str | None, str, dict[str, Any], dict[str, Any] | None]:
    """(outcome, reason, compared values, condition values) of an automation for an event and a deal.

    outcome None: the automation is about another pipeline (not considered at all); "ran" means it matches.
    """
    from robots.matching import actor_allowed

    if automation.pipeline_id is not None and automation.pipeline_id != deal.pipeline_id:
        return None, "", {}, values
    if not automation.active:
        return "inactive", _("inactive: %(event)s is not acted on", event=event.type), {}, values
    if automation.fields:
        changed = set(event.changed or [])
        if not any(name in changed or f"fields.{name}" in changed for name in automation.fields):
            return ("not_matched", _("only when %(fields)s changes", fields=", ".join(map(str, automation.fields))),
                    {"changed": ", ".join(map(str, event.changed or []))}, values)
    if not actor_allowed(automation.triggered_by, event.actor_type, event.actor_id):
        return ("not_matched", _("not made by one of its “triggered by” users"),
                {"actor": f"{event.actor_type}:{event.actor_id}"}, values)
    if automation.condition:
        values = values or {**template_values(session, deal.id, stage_id or deal.stage_id, {}),
                            "event": event_view(event)}
        holds, details = evaluate(automation.condition, values)
        if not holds:
            return "not_matched", explain(automation.condition, details), details, values
    return "ran", "", {}, values


def record_automation_decisions(session: Session, event: DomainEvent, deal: Deal,
                                automations: list[Automation]) -> None:
    """Automations of the event's type that did not act on this deal, recorded with why (inactive or not
    matched); the ones that matched leave their execution row."""
    values: dict[str, Any] | None = None
    for automation in automations:
        outcome, reason, compared, values = automation_verdict(session, automation, event, deal, values)
        if outcome in ("inactive", "not_matched"):
            decisions.record(session, deal.id, "automation", automation.id, automation.name, outcome, reason,
                             compared)


# --- Preview of a move ---------------------------------------------------------------------------------------

def in_words(delta: timedelta) -> str:
    """A delay as people say it: "in 5 minutes", "in 3 hours", "in 2 days"."""
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return ngettext("in %(num)s day", "in %(num)s days", round(seconds / 86400))
    if seconds >= 3600:
        return ngettext("in %(num)s hour", "in %(num)s hours", round(seconds / 3600))
    if seconds >= 60:
        return ngettext("in %(num)s minute", "in %(num)s minutes", round(seconds / 60))
    return ngettext("in %(num)s second", "in %(num)s seconds", seconds)


def _robot_preview(robot: Robot, index: int, previous: Robot | None, deal: Deal, values: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    conditions = checks(robot.condition, values, unknown=lambda field: robot_ref(field) is not None)
    item: dict[str, Any] = {"robot_id": robot.id, "name": robot.name, "kind": robot.kind, "would_run": False,
                            "reason": "", "due_at": None, "conditions": conditions}
    if not robot.active:
        item["reason"] = _("disabled")
        return item
    waiting = robot.after_previous and index > 0
    due = None if waiting else due_at(robot.delay, deal, now)
    item["due_at"] = due.isoformat() if due is not None else None
    holds, details = evaluate(robot.condition, values)
    unknown = any(c["result"] is None for c in conditions)
    immediate = not waiting and due is not None and due <= now
    when = (_("after “%(name)s” finishes", name=previous.name if previous else "?") if waiting
            else _("now") if immediate else _("%(delay)s (%(at)s)", delay=in_words(due - now),
                                               at=due.strftime("%Y-%m-%d %H:%M UTC")))
    if holds or unknown:
        item["would_run"] = True
        item["reason"] = when + (_("; its condition is checked again then") if robot.condition and not immediate
                                 else "")
    elif not immediate:
        # Conditions are evaluated when the robot is due: today's values say it would be skipped.
        item["would_run"] = True
        item["reason"] = when + "; " + _("it would be skipped if checked now (%(why)s)",
                                         why=explain(robot.condition, details))
    else:
        item["reason"] = _("skipped: %(why)s", why=explain(robot.condition, details))
    return item


def _events_of_move(deal: Deal, source: Stage | None, target: Stage, user_id: int) -> list[DomainEvent]:
    """The domain events the move would record (never added to a session)."""
    common = {"entity_type": "deal", "entity_id": deal.id, "deal_id": deal.id, "pipeline_id": deal.pipeline_id,
              "actor_type": "user", "actor_id": user_id, "cause": []}
    events = [DomainEvent(type="deal.stage_changed", changed=["stage_id"], old={"stage_id": deal.stage_id},
                          new={"stage_id": target.id}, data={"to": target.id, "from": deal.stage_id}, **common)]
    status = None
    if target.kind in ("won", "lost") and deal.status != target.kind:
        status = target.kind
    elif source is not None and source.kind in ("won", "lost") and deal.status == source.kind and \
            target.kind not in ("won", "lost"):
        status = "open"
    if status is not None:
        events.append(DomainEvent(type="deal.status_changed", changed=["status", "lost_reason"],
                                  old={"status": deal.status, "lost_reason": deal.lost_reason},
                                  new={"status": status, "lost_reason": None},
                                  data={"to": status, "from": deal.status, "reason": None}, **common))
    return events


def preview_move(session: Session, deal: Deal, stage_id: int, user_id: int, *, public_url: str = ""
                 ) -> dict[str, Any]:
    """What moving the deal to the stage would run now or when, and which automations would fire.

    Reads only: no row is added or changed, nothing is sent (the caller's transaction has nothing to commit)."""
    target = session.get(Stage, stage_id)
    if target is None or target.pipeline_id != deal.pipeline_id or target.archived:
        raise ValidationError(_("stage %(id)s is not a stage of the deal's pipeline", id=stage_id),
                              {"stage_id": _("not in the deal's pipeline")})
    if target.id == deal.stage_id:
        raise ValidationError(_("the deal is already in “%(stage)s”", stage=target.name),
                              {"stage_id": _("the deal's current stage")})
    now = clock.now()
    values = template_values(session, deal.id, target.id, {}, public_url=public_url)
    robots = list(session.scalars(select(Robot).where(Robot.stage_id == target.id)
                                  .order_by(Robot.position, Robot.id)))
    active = [r for r in robots if r.active]
    items = []
    for robot in robots:
        index = active.index(robot) if robot.active else 0
        previous = active[index - 1] if robot.active and index > 0 else None
        items.append(_robot_preview(robot, index, previous, deal, values, now))
    source = session.get(Stage, deal.stage_id)
    events = _events_of_move(deal, source, target, user_id)
    automations = list(session.scalars(select(Automation).where(Automation.event.in_([e.type for e in events]))
                                       .order_by(Automation.id)))
    found = []
    for event in events:
        event_values: dict[str, Any] | None = None
        for automation in (a for a in automations if a.event == event.type):
            outcome, reason, compared, event_values = automation_verdict(session, automation, event, deal,
                                                                         event_values, stage_id=target.id)
            if outcome is None:
                continue
            actions = session.scalars(select(Robot.name).where(Robot.automation_id == automation.id,
                                                               Robot.active.is_(True))
                                      .order_by(Robot.position, Robot.id)).all()
            found.append({"automation_id": automation.id, "name": automation.name, "event": event.type,
                          "would_fire": outcome == "ran", "outcome": outcome,
                          "reason": reason or _("matches: %(n)s action(s) would be scheduled", n=len(actions)),
                          "values": {k: decisions.summary(v) for k, v in compared.items()},
                          "actions": list(actions)})
    return {"deal_id": deal.id, "stage_id": target.id, "stage_name": target.name, "robots": items,
            "automations": found}
