"""Event automations meet the engine: a recorded domain event schedules the runs of every automation it matches,
in the event's own transaction (one execution per automation, event and subject), or records why the loop guard
refused. An event of a person or organization acts on each of their open deals, or on the person or organization
itself when they have none; deal.deleted acts on the deleted deal's snapshot (robots.subjects).

Rolled-back change → no event → nothing scheduled; committed change → its runs are committed with it, so nothing
is lost after a crash and the unique (automation, event, subject) key keeps it exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.automation_versions import current_version
from kanban.domain_events import DomainEvent, EventRecorded
from kanban.events import Actor
from kanban.i18n import _
from kanban.services.deals import MAX_CAUSE_DEPTH, timeline
from robots import subjects
from robots.claiming import event_view
from robots.conditions import evaluate
from robots.models import Automation, AutomationExecution, Robot, RobotRun
from robots.scheduling import due_at, send_after_commit
from robots.subjects import Subject
from robots.values import template_values

AUTOMATIC = ("robot", "trigger")
MAX_AUTO_EXECUTIONS = 20  # automatic executions of one deal's automations per window (the rate half of the guard)
AUTO_WINDOW = timedelta(minutes=5)


def on_event_recorded(session: Session, recorded: EventRecorded) -> None:
    """Schedule the actions of every active automation the event matches (bus handler of EventRecorded)."""
    event = recorded.event
    considered = list(session.scalars(select(Automation).where(Automation.event == event.type)
                                      .order_by(Automation.id)))
    if not considered:
        return
    automations = [a for a in considered if a.active]
    for subject in subjects.subjects_of(session, event):
        values: dict[str, Any] | None = None
        declined = [a for a in considered if not a.active]
        for automation in automations:
            if not prefilter(automation, event, subject):
                declined.append(automation)
                continue
            if automation.condition:
                values = values or _values(session, event, subject)
                if not evaluate(automation.condition, values)[0]:
                    declined.append(automation)
                    continue
            schedule(session, automation, event, subject)
        if declined and subject.deal is not None:
            # "Why?" on the deal page: inactive automations and those whose filters or condition failed.
            from robots.explain import record_automation_decisions

            record_automation_decisions(session, event, subject.deal, declined)


def _values(session: Session, event: DomainEvent, subject: Subject) -> dict[str, Any]:
    if subject.deal is not None:
        return {**template_values(session, subject.deal.id, subject.deal.stage_id, {}), "event": event_view(event)}
    return subjects.values(session, subject.type, subject.id, event_view(event), {})


def prefilter(automation: Automation, event: DomainEvent, subject: Subject) -> bool:
    """Pipeline, changed fields and "triggered by" filters (everything but the condition). An automation of one
    pipeline never acts on a person or organization without a deal."""
    if automation.pipeline_id is not None and automation.pipeline_id != subject.pipeline_id:
        return False
    if automation.fields:
        changed = set(event.changed or [])
        if not any(name in changed or f"fields.{name}" in changed for name in automation.fields):
            return False
    return actor_allowed(automation.triggered_by, event.actor_type, event.actor_id)


def actor_allowed(triggered_by: dict[str, Any] | None, actor_type: str, actor_id: int | None) -> bool:
    """No filter: any actor. With user_ids: only those users; automatic actors only with "automatic": true."""
    if not triggered_by:
        return True
    if actor_type == "user":
        return actor_id in (triggered_by.get("user_ids") or [])
    return bool(triggered_by.get("automatic"))


def loop_refusal(session: Session, event: DomainEvent, subject: Subject | None = None) -> str | None:
    """Why the loop guard stops this event's automations (chain depth, or rate per deal — per subject for those
    without a deal), or None."""
    if event.actor_type not in AUTOMATIC:
        return None
    depth = len(event.cause or [])
    if depth > MAX_CAUSE_DEPTH:
        return f"chain of automatic actions is {depth} deep (limit {MAX_CAUSE_DEPTH})"
    since = clock.now() - AUTO_WINDOW
    recent = session.scalar(
        select(func.count()).select_from(AutomationExecution)
        .join(DomainEvent, DomainEvent.id == AutomationExecution.event_id)
        .where(*_same_subject(event, subject), AutomationExecution.created_at >= since,
               DomainEvent.actor_type.in_(AUTOMATIC))
    ) or 0
    if recent >= MAX_AUTO_EXECUTIONS:
        what = _("deal") if subject is None or subject.type == "deal" else subject.type
        return _("%(n)s automatic automation runs on this %(what)s in the last 5 minutes (limit %(limit)s)",
                 n=recent, what=what, limit=MAX_AUTO_EXECUTIONS)
    return None


def _same_subject(event: DomainEvent, subject: Subject | None) -> tuple[Any, ...]:
    if subject is None or subject.deal is not None:
        return (AutomationExecution.deal_id == (subject.id if subject is not None else event.deal_id),)
    return (AutomationExecution.subject_type == subject.type, AutomationExecution.subject_id == subject.id)


def schedule(session: Session, automation: Automation, event: DomainEvent, subject: Subject) -> AutomationExecution:
    """Write the execution and one run per active action (waiting when chained), sent after commit when due."""
    now = clock.now()
    deal = subject.deal
    refusal = loop_refusal(session, event, subject)
    execution = AutomationExecution(automation_id=automation.id, event_id=event.id,
                                    deal_id=deal.id if deal is not None else None, subject_type=subject.type,
                                    subject_id=subject.id, status="blocked" if refusal else "scheduled",
                                    reason=refusal, cause=list(event.cause or []), created_at=now)
    session.add(execution)
    session.flush()
    if refusal:
        if deal is not None:
            timeline(session, deal.id, "loop_blocked",
                     _("Automation “%(name)s” stopped: %(why)s", name=automation.name, why=refusal),
                     Actor("automation", automation.id), automation_id=automation.id, event_id=event.id,
                     cause=list(event.cause or []))
        session.flush()
        return execution
    robots = session.scalars(select(Robot).where(Robot.automation_id == automation.id, Robot.active.is_(True))
                             .order_by(Robot.position, Robot.id))
    version = current_version(session, automation.pipeline_id)
    runs = []
    for index, robot in enumerate(robots):
        waiting = robot.after_previous and index > 0
        runs.append(RobotRun(
            robot_id=robot.id, deal_id=execution.deal_id, stage_id=deal.stage_id if deal is not None else None,
            stage_entry_id=None, execution_id=execution.id, kind=robot.kind, robot_key=robot.key, position=index,
            status="waiting" if waiting else "scheduled", due_at=None if waiting else due_at(robot.delay, deal, now),
            attempts=0, outputs={}, cause=list(event.cause or []), created_at=now, automation_version=version,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()
    return execution
