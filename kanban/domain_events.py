"""Domain events: one row per change to a deal, activity, person or organization, written in its transaction.

A use case calls `record_event` inside the transaction of the change it describes, so a rolled-back change leaves
no event and a committed one always has its row (nothing to lose after a crash). The row is published on the core
bus as `EventRecorded` in that same transaction: event automations subscribe there and schedule their runs
atomically with the change. Imports run inside `events_suppressed()` and raise no events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from kanban.clock import now
from kanban.events import Actor, bus
from kanban.models import Base

EVENT_TYPES = (
    "deal.created", "deal.updated", "deal.deleted", "deal.assigned", "deal.unassigned", "deal.commented",
    "deal.status_changed", "deal.stage_changed",
    "activity.created", "activity.updated", "activity.completed", "activity.deleted",
    "person.created", "person.updated", "person.deleted",
    "organization.created", "organization.updated", "organization.deleted",
    "email.received",
)

_suppressed: ContextVar[bool] = ContextVar("kanban_events_suppressed", default=False)


class DomainEvent(Base):
    """A recorded change: what happened to which record, by whom, with old and new values."""

    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_deal", "deal_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(20))  # deal | activity | person | organization | email
    entity_id: Mapped[int | None] = mapped_column(Integer)
    # No foreign key: the event of a deleted deal outlives it.
    deal_id: Mapped[int | None] = mapped_column(Integer)
    actor_type: Mapped[str] = mapped_column(String(20), default="system")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    changed: Mapped[list[Any]] = mapped_column(default=list)
    old: Mapped[dict[str, Any]] = mapped_column(default=dict)
    new: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. {"to": "won"} or {"to": stage_id}
    cause: Mapped[list[Any]] = mapped_column(default=list)  # the automatic chain that led here (loop guard)
    created_at: Mapped[datetime] = mapped_column(default=now)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))


@dataclass(frozen=True)
class EventRecorded:
    """Published on the bus, inside the change's transaction, for each recorded domain event."""

    event: DomainEvent


@contextmanager
def events_suppressed() -> Iterator[None]:
    """Changes made inside this block raise no domain events (imports, demo seeding)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def events_are_suppressed() -> bool:
    """True inside `events_suppressed()`."""
    return _suppressed.get()


def plain(value: Any) -> Any:
    """A JSON-safe copy of a value for the event's old/new maps."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record_event(
    session: Session,
    type: str,
    *,
    entity_type: str,
    entity_id: int | None,
    actor: Actor,
    deal_id: int | None = None,
    pipeline_id: int | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    changed: list[str] | None = None,
    data: dict[str, Any] | None = None,
    cause: tuple[dict[str, Any], ...] | list[Any] = (),
) -> DomainEvent | None:
    """Write a domain event in the caller's transaction and publish it; None when events are suppressed."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown domain event type {type!r}")
    if _suppressed.get():
        return None
    event = DomainEvent(
        type=type, entity_type=entity_type, entity_id=entity_id, deal_id=deal_id, pipeline_id=pipeline_id,
        actor_type=actor.type, actor_id=actor.id, changed=list(changed or []), old=plain(old or {}),
        new=plain(new or {}), data=plain(data or {}), cause=list(cause), created_at=now(),
    )
    session.add(event)
    session.flush()
    bus.publish(session, EventRecorded(event))
    return event
