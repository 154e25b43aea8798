"""Event automations meet the engine: a recorded domain event schedules the runs of every automation it matches,
in the event's own transaction (one execution per automation, event and deal), or records why the loop guard
refused. An event of a person or organization acts on each of their open deals.

Rolled-back change → no event → nothing scheduled; committed change → its runs are committed with it, so nothing
is lost after a crash and the unique (automation, event) pair keeps it exactly once.
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
from kanban.models import Deal
from kanban.services.deals import MAX_CAUSE_DEPTH, timeline
from robots.claiming import event_view
from robots.conditions import evaluate
from robots.models import Automation, AutomationExecution, Robot, RobotRun
from robots.scheduling import due_at, send_after_commit
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
    for deal in deals_of(session, event):
        values: dict[str, Any] | None = None
        declined = [a for a in considered if not a.active]
        for automation in automations:
            if not prefilter(automation, event, deal):
                declined.append(automation)
                continue
            if automation.condition:
                values = values or {**template_values(session, deal.id, deal.stage_id, {}),
                                    "event": event_view(event)}
                if not evaluate(automation.condition, values)[0]:
                    declined.append(automation)
                    continue
            schedule(session, automation, event, deal)
        if declined:
            # "Why?" on the deal page: inactive automations and those whose filters or condition failed.
            from robots.explain import record_automation_decisions

            record_automation_decisions(session, event, deal, declined)


def deals_of(session: Session, event: DomainEvent) -> list[Deal]:
    """The deals an event's actions act on: its deal; for a person or organization, their open deals.

    A deal deleted by the change (deal.deleted) is gone: there is nothing left for actions to act on."""
    if event.deal_id is not None:
        deal = session.get(Deal, event.deal_id)
        return [deal] if deal is not None else []
    column = {"person": Deal.person_id, "organization": Deal.organization_id}.get(event.entity_type)
    if column is None or event.entity_id is None:
        return []
    return list(session.scalars(select(Deal).where(column == event.entity_id, Deal.status == "open")
                                .order_by(Deal.id)))


def prefilter(automation: Automation, event: DomainEvent, deal: Deal) -> bool:
    """Pipeline, changed fields and "triggered by" filters (everything but the condition)."""
    if automation.pipeline_id is not None and automation.pipeline_id != deal.pipeline_id:
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


def loop_refusal(session: Session, event: DomainEvent) -> str | None:
    """Why the loop guard stops this event's automations (chain depth, or rate per deal), or None."""
    if event.actor_type not in AUTOMATIC:
        return None
    depth = len(event.cause or [])
    if depth > MAX_CAUSE_DEPTH:
        return f"chain of automatic actions is {depth} deep (limit {MAX_CAUSE_DEPTH})"
    since = clock.now() - AUTO_WINDOW
    recent = session.scalar(
        select(func.count()).select_from(AutomationExecution)
        .join(DomainEvent, DomainEvent.id == AutomationExecution.event_id)
        .where(AutomationExecution.deal_id == event.deal_id, AutomationExecution.created_at >= since,
               DomainEvent.actor_type.in_(AUTOMATIC))
    ) or 0
    if recent >= MAX_AUTO_EXECUTIONS:
        return f"{recent} automatic automation runs on this deal in the last 5 minutes (limit {MAX_AUTO_EXECUTIONS})"
    return None


def schedule(session: Session, automation: Automation, event: DomainEvent, deal: Deal) -> AutomationExecution:
    """Write the execution and one run per active action (waiting when chained), sent after commit when due."""
    now = clock.now()
    refusal = loop_refusal(session, event)
    execution = AutomationExecution(automation_id=automation.id, event_id=event.id, deal_id=deal.id,
                                    status="blocked" if refusal else "scheduled", reason=refusal,
                                    cause=list(event.cause or []), created_at=now)
    session.add(execution)
    session.flush()
    if refusal:
        timeline(session, deal.id, "loop_blocked", f"Automation “{automation.name}” stopped: {refusal}",
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
            robot_id=robot.id, deal_id=deal.id, stage_id=deal.stage_id, stage_entry_id=None,
            execution_id=execution.id, kind=robot.kind, robot_key=robot.key, position=index,
            status="waiting" if waiting else "scheduled", due_at=None if waiting else due_at(robot.delay, deal, now),
            attempts=0, outputs={}, cause=list(event.cause or []), created_at=now, automation_version=version,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()
    return execution
