"""Plugs robots into the core runtime: event handlers, actors, dispatcher, web routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import queries
from kanban.domain_events import EventRecorded
from kanban.events import DealFieldsChanged, DealMoved, DealsMoved, bus
from kanban.i18n import _
from kanban.services.pipelines import AutomationItem
from robots.models import Automation, Robot
from robots.registry import registry


def install(runtime: Any) -> None:
    """Subscribe robot scheduling to core events, declare the run actor, and start the dispatcher with the worker."""
    from robots import actors, dispatcher, matching, scheduling
    from robots.registry import load_kinds

    load_kinds()
    send = actors.install(runtime)
    scheduling.configure(send)
    bus.subscribe(DealMoved, scheduling.on_deal_moved)
    bus.subscribe(DealFieldsChanged, scheduling.on_fields_changed)  # date-field delays follow their field
    bus.subscribe(DealsMoved, scheduling.on_deals_moved)
    # Event automations: a recorded domain event schedules the matching automations' runs in its transaction.
    bus.subscribe(EventRecorded, matching.on_event_recorded)
    runtime.background.append(dispatcher.make_loop(runtime, send))

    # --- Robot configuration UI and API (helper E): automation view, run-log panel, JSON API. ---
    from robots import api, automation_api, automation_web, explain_web, web

    web.install(runtime)
    explain_web.install(runtime)
    api.install(runtime)
    automation_api.install(runtime)
    automation_web.install(runtime)

    # --- Demo data: robots for the demo pipeline (seeded by `kanban demo` / KANBAN_DEMO=1). ---
    from robots import demo

    demo.install()

    # --- Email templates library and the deal page's "write an email" panel (issue 16). ---
    from robots import compose, email_templates_web

    email_templates_web.install(runtime)
    compose.install(runtime)
    queries.ACTOR_NAMES["robot"] = robot_names
    runtime.stage_automation.append(stage_robots)
    queries.ACTOR_NAMES["automation"] = automation_names

    # --- Automations as code and their versions (issue 12): the robots and automations sections. ---
    from kanban import automation_code
    from robots import automation_code as robots_code

    for section in robots_code.SECTIONS:
        automation_code.register(section)


def stage_robots(session: Session, stage_id: int) -> list[AutomationItem]:
    """A stage's robots in chain order (what a deal entering it starts, when active)."""
    rows = session.scalars(select(Robot).where(Robot.stage_id == stage_id).order_by(Robot.position, Robot.id))
    return [AutomationItem("robot", r.id, r.name, registry.get(r.kind).title if r.kind in registry else r.kind,
                           r.active) for r in rows]


def robot_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Timeline display names of robots: Robot “Payment link”; an automation's: Automation “X” › “action”."""
    rows = session.execute(select(Robot.id, Robot.name, Automation.name).outerjoin(
        Automation, Automation.id == Robot.automation_id).where(Robot.id.in_(ids)))
    return {rid: _("Automation “%(owner)s” › “%(name)s”", owner=owner, name=name) if owner
            else _("Robot “%(name)s”", name=name) for rid, name, owner in rows}


def automation_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Timeline display names of automations (the loop guard's entries)."""
    rows = session.execute(select(Automation.id, Automation.name).where(Automation.id.in_(ids)))
    return {aid: _("Automation “%(name)s”", name=name) for aid, name in rows}
