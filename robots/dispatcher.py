"""The dispatcher: sends runs as they fall due and re-sends runs whose message was lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kanban import clock
from robots.models import RobotRun

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.2
REQUEUE_AFTER_SECONDS = 30.0
BATCH = 500


def due_run_ids(session: Session, *, requeue_after: float = REQUEUE_AFTER_SECONDS, limit: int = BATCH) -> list[int]:
    """Claim the right to send due runs never sent, or sent long ago and still not done; marks them enqueued.

    A run stays `scheduled` until the transaction that executes it commits, so a run whose message was
    lost (worker SIGKILLed, Redis restarted empty) is simply found here again after `requeue_after`.
    """
    now = clock.now()
    stale = now - timedelta(seconds=requeue_after)
    stmt = (
        select(RobotRun.id)
        .where(RobotRun.status == "scheduled", RobotRun.due_at <= now,
               or_(RobotRun.enqueued_at.is_(None), RobotRun.enqueued_at < stale))
        .order_by(RobotRun.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several dispatchers (one per worker process) share the work instead of sending twice.
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(update(RobotRun).where(RobotRun.id.in_(ids)).values(enqueued_at=now)
                        .execution_options(synchronize_session=False))
    return ids


def tick(runtime: Any, send: Callable[[list[int]], None], *, requeue_after: float = REQUEUE_AFTER_SECONDS) -> int:
    """One dispatcher pass: mark and send the due runs; returns how many were sent."""
    with runtime.sessions() as session, session.begin():
        ids = due_run_ids(session, requeue_after=requeue_after)
    if ids:
        send(ids)
    return len(ids)


def make_loop(runtime: Any, send: Callable[[list[int]], None], *,
              interval: float = INTERVAL_SECONDS) -> Callable[[threading.Event], None]:
    """A background loop for runtime.background: tick every `interval` seconds until stopped.

    The re-send delay is read from runtime.extras["robots.requeue_after"] (set by `kanban worker
    --requeue-after`), default REQUEUE_AFTER_SECONDS.
    """

    def robot_dispatcher(stop: threading.Event) -> None:
        while not stop.is_set():
            requeue_after = float(runtime.extras.get("robots.requeue_after", REQUEUE_AFTER_SECONDS))
            try:
                sent = tick(runtime, send, requeue_after=requeue_after)
            except SQLAlchemyError:
                # The database is away (restart, failover): keep trying; runs wait safely in their rows.
                log.exception("robot dispatcher: database error; retrying")
                sent = 0
            if sent < BATCH:
                stop.wait(interval)

    return robot_dispatcher
