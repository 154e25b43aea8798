"""Dramatiq actor that processes stored inbound events, and the loop that re-enqueues lost messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dramatiq

from triggers.inbound import due_for_requeue, record_failure
from triggers.processing import process_event

log = logging.getLogger(__name__)
ACTOR_NAME = "triggers.process_inbound"
REQUEUE_INTERVAL = 2.0
REQUEUE_AFTER_SECONDS = 30.0


def install(runtime: Any) -> Callable[[int], None]:
    """Declare the actor on the runtime's broker; returns enqueue(event_id)."""
    broker = runtime.extras["broker"]
    sessions = runtime.sessions

    def process_inbound(event_id: int) -> None:
        try:
            with sessions() as session, session.begin():
                process_event(session, event_id)
        except Exception as exc:  # noqa: BLE001 - actor boundary: the error becomes the event's outcome
            log.exception("inbound event %s failed", event_id)
            with sessions() as session, session.begin():
                retry = record_failure(session, event_id, f"{type(exc).__name__}: {exc}")
            if retry is not None:
                # Transient trouble (a lock, a unique race) usually clears fast: retry soon, with backoff.
                actor.send_with_options(args=(event_id,), delay=retry)

    actor = dramatiq.actor(process_inbound, broker=broker, actor_name=ACTOR_NAME, max_retries=0)

    def enqueue(event_id: int) -> None:
        try:
            actor.send(event_id)
        except Exception:  # noqa: BLE001 - broker down: the requeue loop sends it later, nothing is lost
            log.exception("could not enqueue inbound event %s; the requeue loop will retry", event_id)

    def requeue_loop(stop: threading.Event) -> None:
        while not stop.wait(REQUEUE_INTERVAL):
            # The same knob as the robot dispatcher (`kanban worker --requeue-after`).
            older_than = timedelta(seconds=float(runtime.extras.get("robots.requeue_after", REQUEUE_AFTER_SECONDS)))
            try:
                with sessions() as session, session.begin():
                    ids = due_for_requeue(session, older_than)
                for event_id in ids:
                    enqueue(event_id)
            except Exception:  # noqa: BLE001 - a loop boundary: log and keep going next tick
                log.exception("inbound requeue loop failed")

    runtime.background.append(requeue_loop)
    runtime.extras["triggers.actor"] = actor
    return enqueue
