"""Plugs triggers into the core runtime: kinds, the field-change handler, the actor, routes and panels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import queries
from kanban.events import DealFieldsChanged, bus
from kanban.i18n import _
from kanban.services.pipelines import AutomationItem
from triggers import actors, admin, api, demo, web
from triggers.intake import IntakeOptions, RateLimiter
from triggers.models import Trigger
from triggers.registry import Occurrence, load_kinds, registry
from triggers.resolution import fire


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def on_fields_changed(session: Session, event: DealFieldsChanged) -> None:
    """field_changed triggers fire in the transaction that changed the field (UI, API or robot alike)."""
    changes = {name: [_plain(old), _plain(new)] for name, (old, new) in event.changes.items()}
    occurrence = Occurrence("field_changed", event.deal_id, {"changes": changes}, None, tuple(event.cause))
    fire(session, event.deal_id, ["field_changed"], occurrence, quiet_when_irrelevant=True)


def trigger_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Timeline display names of triggers: Trigger “Invoice paid”."""
    rows = session.execute(select(Trigger.id, Trigger.name).where(Trigger.id.in_(ids)))
    return {tid: _("Trigger “%(name)s”", name=name) for tid, name in rows}


def install(runtime: Any) -> None:
    """Subscribe trigger handlers to core events and register trigger routes, panels and the actor."""
    load_kinds()
    options = IntakeOptions()
    runtime.extras["triggers.options"] = options
    runtime.extras["triggers.limiter"] = RateLimiter(options.rate_per_second, options.burst)
    runtime.extras["triggers.enqueue"] = actors.install(runtime)
    bus.subscribe(DealFieldsChanged, on_fields_changed)
    runtime.routes.extend([*web.routes, *api.routes, *admin.routes])
    runtime.column_panels.append(admin.column_panel)
    runtime.deal_panels.append(admin.deal_panel)
    demo.install()
    queries.ACTOR_NAMES["trigger"] = trigger_names
    runtime.stage_automation.append(stage_triggers)
    from kanban import automation_code
    from triggers.automation_code import SECTION

    automation_code.register(SECTION)


def stage_triggers(session: Session, stage_id: int) -> list[AutomationItem]:
    """A stage's triggers (what moves deals into it)."""
    rows = session.scalars(select(Trigger).where(Trigger.stage_id == stage_id)
                           .order_by(Trigger.position, Trigger.id))
    return [AutomationItem("trigger", t.id, t.name, registry.get(t.kind).title if t.kind in registry else t.kind,
                           t.active) for t in rows]
