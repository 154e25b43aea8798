"""The inbound event store: every outside call stored once (provider + event id), then claimed once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kanban import clock
from kanban.db import insert_ignoring_conflict, on_commit
from triggers.models import InboundEvent

Enqueue = Callable[[int], None]
MAX_ID = 2**31 - 1  # integer primary keys: larger values cannot name a row (and PostgreSQL refuses them)
MAX_ATTEMPTS = 5
REQUEUE_AFTER = timedelta(seconds=30)


def store_event(session: Session, enqueue: Enqueue | None, *, provider: str, event_id: str, kind: str,
                payload: dict[str, Any], deal_id: int | None = None, status: str = "pending",
                outcome: str | None = None) -> int | None:
    """Insert an event unless (provider, event_id) exists; returns its id, or None for a duplicate.

    A pending event is enqueued for processing after the transaction commits (never before, never on rollback).
    """
    now = clock.now()
    values = {"provider": provider, "event_id": scrub(event_id)[:200], "kind": kind, "payload": scrub(payload),
              "deal_id": deal_id, "status": status, "outcome": outcome, "received_at": now,
              "enqueued_at": now if status == "pending" and enqueue else None, "attempts": 0}
    stmt = insert_ignoring_conflict(session, InboundEvent, values, ["provider", "event_id"]).returning(InboundEvent.id)
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None and status == "pending" and enqueue is not None:
        on_commit(session, lambda: enqueue(new_id))
    return new_id


def db_id(value: Any) -> int | None:
    """value when it can be a row id (a positive 32-bit int, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def scrub(value: Any) -> Any:
    """Strings without NUL characters, recursively (PostgreSQL text and JSONB refuse them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def claim(session: Session, event_id: int) -> InboundEvent | None:
    """Take a pending event for processing in this transaction; None when another worker already did it.

    The conditional UPDATE takes the row lock, so a concurrent claimer waits, then sees it is no longer pending.
    """
    result = session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == event_id, InboundEvent.status == "pending")
        .values(attempts=InboundEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    event = session.get(InboundEvent, event_id, populate_existing=True)
    return event


def finish(event: InboundEvent, status: str, outcome: str, **fields: Any) -> None:
    """Record an event's final status and the human-readable reason."""
    event.status = status
    event.outcome = outcome[:2000]
    event.processed_at = clock.now()
    for key, value in fields.items():
        setattr(event, key, value)


def record_failure(session: Session, event_id: int, error: str) -> int | None:
    """Count a failed attempt; returns the retry delay in ms, or None once the event failed for good."""
    event = session.get(InboundEvent, event_id)
    if event is None or event.status != "pending":
        return None
    event.attempts += 1
    if event.attempts >= MAX_ATTEMPTS:
        finish(event, "failed", f"failed after {event.attempts} attempts: {error}")
        return None
    event.outcome = f"attempt {event.attempts} failed: {error}"[:2000]
    # Counts as just enqueued: the actor resends it with a delay, and the requeue loop is the safety net.
    event.enqueued_at = clock.now()
    return int(250 * 2**event.attempts)


def due_for_requeue(session: Session, older_than: timedelta = REQUEUE_AFTER, limit: int = 200) -> list[int]:
    """Pending events whose message was never sent or seems lost (sent > older_than ago); marks them enqueued."""
    now = clock.now()
    ids = list(session.scalars(
        select(InboundEvent.id)
        .where(InboundEvent.status == "pending",
               or_(InboundEvent.enqueued_at.is_(None), InboundEvent.enqueued_at < now - older_than))
        .order_by(InboundEvent.id).limit(limit)
    ))
    if ids:
        session.execute(update(InboundEvent).where(InboundEvent.id.in_(ids)).values(enqueued_at=now)
                        .execution_options(synchronize_session=False))
    return ids
