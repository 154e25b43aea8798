"""Plugs robots into the core runtime: event handlers, actors, dispatcher, web routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import queries
from kanban.events import DealMoved, bus
from kanban.services.pipelines import AutomationItem
from robots.models import Robot
from robots.registry import registry


def install(runtime: Any) -> None:
    """Subscribe robot scheduling to core events, declare the run actor, and start the dispatcher with the worker."""
    from robots import actors, dispatcher, scheduling
    from robots.registry import load_kinds

    load_kinds()
    send = actors.install(runtime)
    scheduling.configure(send)
    bus.subscribe(DealMoved, scheduling.on_deal_moved)
    runtime.background.append(dispatcher.make_loop(runtime, send))

    # --- Robot configuration UI and API (helper E): automation view, run-log panel, JSON API. ---
    from robots import api, web

    web.install(runtime)
    api.install(runtime)

    # --- Demo data: robots for the demo pipeline (seeded by `kanban demo` / KANBAN_DEMO=1). ---
    from robots import demo

    demo.install()

    # --- Email templates library and the deal page's "write an email" panel (issue 16). ---
    from robots import compose, email_templates_web

    email_templates_web.install(runtime)
    compose.install(runtime)
    queries.ACTOR_NAMES["robot"] = robot_names
    runtime.stage_automation.append(stage_robots)


def stage_robots(session: Session, stage_id: int) -> list[AutomationItem]:
    """A stage's robots in chain order (what a deal entering it starts, when active)."""
    rows = session.scalars(select(Robot).where(Robot.stage_id == stage_id).order_by(Robot.position, Robot.id))
    return [AutomationItem("robot", r.id, r.name, registry.get(r.kind).title if r.kind in registry else r.kind,
                           r.active) for r in rows]


def robot_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Timeline display names of robots: Robot “Payment link”."""
    rows = session.execute(select(Robot.id, Robot.name).where(Robot.id.in_(ids)))
    return {rid: f"Robot “{name}”" for rid, name in rows}
