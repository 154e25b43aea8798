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
from kanban.live import publish_deal_changed
from robots.engine import locked_run, retry_later
from robots.models import Robot, RobotRun
from robots.scheduling import group_key, packed

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.2
REQUEUE_AFTER_SECONDS = 30.0
STALLED_AFTER_SECONDS = 300.0  # far beyond an outside call's timeouts (robots.outside / kanban.outbound)
BATCH = 500


def due_run_ids(session: Session, *, requeue_after: float = REQUEUE_AFTER_SECONDS,
                limit: int = BATCH) -> list[list[int]]:
    """Claim the right to send due runs never sent, or sent long ago and still not done; marks them enqueued.

    Returns the ids in messages (robots.scheduling.packed): each group's runs (stage entry or automation
    execution) together and in order, several groups per message.

    A run stays `scheduled` until the transaction that executes it commits, so a run whose message was
    lost (worker SIGKILLed, Redis restarted empty) is simply found here again after `requeue_after`.
    """
    now = clock.now()
    stale = now - timedelta(seconds=requeue_after)
    stmt = (
        select(RobotRun.id, RobotRun.stage_entry_id, RobotRun.execution_id)
        .where(RobotRun.status == "scheduled", RobotRun.due_at <= now,
               or_(RobotRun.enqueued_at.is_(None), RobotRun.enqueued_at < stale))
        .order_by(RobotRun.due_at, RobotRun.position)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several dispatchers (one per worker process) share the work instead of sending twice.
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if rows:
        session.execute(update(RobotRun).where(RobotRun.id.in_([row.id for row in rows])).values(enqueued_at=now)
                        .execution_options(synchronize_session=False))
    return packed((row.id, group_key(row)) for row in rows)


STALLED = "the worker stopped during an outside call; it is made again with the same idempotency key"


def recover_stalled(runtime: Any, *, stalled_after: float = STALLED_AFTER_SECONDS) -> int:
    """Runs left `running` by an outside call whose worker died (the call's outcome is unknown): scheduled
    again after the backoff, the call carrying the same run id as idempotency key, or failed after the last
    attempt. Each in a transaction of its own, deal locked first. Returns how many."""
    cutoff = clock.now() - timedelta(seconds=stalled_after)
    with runtime.sessions() as session:
        ids = list(session.scalars(select(RobotRun.id).where(RobotRun.status == "running",
                                                             RobotRun.started_at < cutoff).limit(BATCH)))
    for run_id in ids:
        with runtime.sessions() as session, session.begin():
            run = locked_run(session, run_id)
            if run is None or run.status != "running" or run.started_at is None or run.started_at >= cutoff:
                continue  # finished, or taken over, meanwhile
            retry_later(session, run, STALLED, clock.now(), robot=session.get(Robot, run.robot_id))
            if run.deal_id is not None:
                publish_deal_changed(session, run.deal_id)
    return len(ids)


def tick(runtime: Any, send: Callable[[list[list[int]]], None], *,
         requeue_after: float = REQUEUE_AFTER_SECONDS) -> int:
    """One dispatcher pass: recover stalled outside calls, then mark and send the due runs (a message per stage
    entry); returns how many runs it sent."""
    recover_stalled(runtime)
    with runtime.sessions() as session, session.begin():
        due = due_run_ids(session, requeue_after=requeue_after)
    if due:
        send(due)
    return sum(len(batch) for batch in due)


def make_loop(runtime: Any, send: Callable[[list[list[int]]], None], *,
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
