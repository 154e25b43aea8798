"""Domain events are written in the change's transaction, carry old/new values, and are absent on rollback."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.domain_events import DomainEvent, EventRecorded, events_suppressed, record_event
from kanban.events import Actor, bus
from kanban.services.deals import create_deal, move_deal, update_deal


def _events(runtime: Any) -> list[DomainEvent]:
    with runtime.sessions() as s:
        return list(s.scalars(select(DomainEvent).order_by(DomainEvent.id)))


def test_deal_life_records_events(runtime: Any, pipeline: Any, rep: Any, admin: Any) -> None:
    actor = Actor.user(admin.id)
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=actor, responsible_id=rep.id)
        deal_id = deal.id
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal_id, {"title": "Acme 2", "responsible_id": None}, actor=actor)
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal_id, pipeline.stages[1].id, actor=actor)
    events = _events(runtime)
    assert [e.type for e in events] == ["deal.created", "deal.assigned", "deal.updated", "deal.unassigned",
                                        "deal.stage_changed"]
    updated = events[2]
    assert updated.changed == ["responsible_id", "title"]
    assert updated.old == {"title": "Acme", "responsible_id": rep.id}
    assert updated.new == {"title": "Acme 2", "responsible_id": None}
    assert (updated.actor_type, updated.actor_id, updated.deal_id) == ("user", admin.id, deal_id)
    assert events[4].data == {"to": pipeline.stages[1].id, "from": pipeline.stages[0].id}


def test_rolled_back_change_leaves_no_event(runtime: Any, pipeline: Any, admin: Any) -> None:
    with runtime.sessions() as s:
        with s.begin():
            create_deal(s, title="Gone", pipeline_id=pipeline.id, actor=Actor.user(admin.id))
            s.rollback()
    assert _events(runtime) == []


def test_suppressed_and_published(runtime: Any, pipeline: Any, admin: Any) -> None:
    seen: list[str] = []

    def handler(session: Any, recorded: EventRecorded) -> None:
        seen.append(recorded.event.type)

    bus.subscribe(EventRecorded, handler)
    try:
        with runtime.sessions() as s, s.begin():
            with events_suppressed():
                create_deal(s, title="Imported", pipeline_id=pipeline.id, actor=Actor.user(admin.id))
            create_deal(s, title="Typed", pipeline_id=pipeline.id, actor=Actor.user(admin.id))
    finally:
        bus.handlers[EventRecorded].remove(handler)
    assert seen == ["deal.created", "deal.assigned"]  # the person creating it becomes its responsible
    assert [e.new["title"] for e in _events(runtime) if e.type == "deal.created"] == ["Typed"]


def test_unknown_type_is_refused(runtime: Any) -> None:
    with runtime.sessions() as s, pytest.raises(ValueError):
        record_event(s, "deal.exploded", entity_type="deal", entity_id=1, actor=Actor.user(1))
