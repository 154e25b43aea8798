"""Plugs robots into the core runtime: event handlers, actors, dispatcher, web routes."""

from __future__ import annotations

from typing import Any

from kanban.events import DealMoved, bus


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
