"""Composition root: the only core module that imports robots and triggers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kanban.config import Settings, load_settings
from kanban.db import make_engine, make_session_factory
from kanban.events import bus


@dataclass
class Runtime:
    """Everything a process needs, built once: settings, database, and the plug-in points."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Plug-in points robots/triggers fill at install time (core never imports them).
    routes: list[Any] = field(default_factory=list)  # extra Starlette routes
    deal_panels: list[Callable[..., Any]] = field(default_factory=list)  # (request, session, deal) -> html
    nav_links: list[tuple[str, str, bool]] = field(default_factory=list)  # (label, path, admin_only)
    column_panels: list[Callable[..., Any]] = field(default_factory=list)
    # (session, stage_id) -> list[kanban.services.pipelines.AutomationItem]: a stage's robots / triggers.
    stage_automation: list[Callable[..., Any]] = field(default_factory=list)
    # Loops run until the event is set: in `kanban serve` (embedded mode) and in `kanban worker`.
    background: list[Callable[[threading.Event], None]] = field(default_factory=list)
    startup: list[Callable[[], None]] = field(default_factory=list)
    shutdown: list[Callable[[], None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None) -> Runtime:
    """Build the runtime and wire robots and triggers into the core's event bus and web app."""
    import robots.wiring
    import triggers.wiring
    from kanban import actors, company, decisions, delivery, demo_commerce, import_jobs, inbox, live, mailboxes
    from kanban.web import automation_pages, commerce
    from kanban.web.api import automation as automation_api

    settings = settings or load_settings()
    engine = engine or make_engine(settings.db_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))
    bus.handlers.clear()
    company.forget()  # a copy read from another database (an earlier runtime) must not leak into this one
    decisions.sources.clear()
    decisions.configure(settings.decision_retention_days, settings.decision_cap)
    actors.install(runtime)
    delivery.install(runtime)
    live.install(runtime)
    import_jobs.install(runtime)
    inbox.install(runtime)
    mailboxes.install(runtime)
    commerce.install(runtime)
    automation_pages.install(runtime)
    automation_api.install(runtime)
    demo_commerce.install()  # before robots: their demo seeder uses the Delivery stage
    robots.wiring.install(runtime)
    triggers.wiring.install(runtime)
    return runtime
