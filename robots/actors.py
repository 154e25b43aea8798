"""The Dramatiq actor that executes robot runs (messages carry run ids only), and a drain helper for tests.

A message carries the due runs of one stage entry (a move into a stage with three robots is one message, not
three): they would queue behind each other on the deal's row lock anyway, so one worker thread executes them
in order, each in its own transaction, and the per-message broker cost is paid once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from redis.exceptions import RedisError
from sqlalchemy import func, select

from kanban import clock
from robots import dispatcher
from robots.engine import execute_run, record_crash
from robots.models import RobotRun

log = logging.getLogger(__name__)
ACTOR_NAME = "robots.execute_run"


def install(runtime: Any) -> Callable[[list[list[int]]], None]:
    """Declare the run actor on the runtime's broker; returns send(batches): one message per batch of run ids."""
    broker = runtime.extras["broker"]

    def execute(run_ids: int | list[int]) -> None:
        # One pool checkout (and liveness ping) for the batch; each run is still its own transaction.
        with runtime.engine.connect() as connection:
            for run_id in run_ids if isinstance(run_ids, list) else [run_ids]:
                try:
                    execute_run(runtime, run_id, bind=connection)
                except Exception as exc:  # noqa: BLE001 - actor boundary: an unexpected error is a failed attempt
                    log.exception("robot run %s crashed", run_id)
                    connection.rollback()
                    record_crash(runtime, run_id, f"{type(exc).__name__}: {exc}")

    actor = dramatiq.actor(execute, broker=broker, actor_name=ACTOR_NAME, max_retries=0)

    def send(batches: list[list[int]]) -> None:
        for batch in batches:
            try:
                actor.send(list(batch))
            except (dramatiq.DramatiqError, RedisError, OSError):
                # The broker is away: the dispatcher re-sends runs still scheduled, nothing is lost.
                log.exception("could not send robot runs %s; the dispatcher will re-send them", batch)

    runtime.extras["robots.actor"] = actor
    runtime.extras["robots.send"] = send
    return send


def _pending_due(runtime: Any) -> int:
    with runtime.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(RobotRun)
            .where(RobotRun.status.in_(("scheduled", "running")), RobotRun.due_at <= clock.now())
        ) or 0


def _pump_stub(broker: StubBroker) -> int:
    """Process every message queued on a stub broker in this thread; returns how many."""
    done = 0
    for name in list(broker.get_declared_queues()):
        queue = broker.queues[name]
        while not queue.empty():
            message = dramatiq.Message.decode(queue.get_nowait())
            broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
            queue.task_done()
            done += 1
    return done


def drain(runtime: Any, timeout: float = 10.0) -> None:
    """Test helper: run everything due (robot runs, trigger messages) until nothing due is left.

    With an embedded worker running it waits for the worker; otherwise it executes queued messages in
    this thread, so tests are deterministic. Runs due later (delays, backoff) are left alone.
    """
    broker = runtime.extras["broker"]
    send = runtime.extras["robots.send"]
    worker = runtime.extras.get("worker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # requeue_after=0: a message lost in a test is re-sent at once rather than after 30 s.
        sent = dispatcher.tick(runtime, send, requeue_after=0 if worker is None else 5)
        if worker is not None:
            for name in list(broker.get_declared_queues()):
                broker.join(name, timeout=int(max(deadline - time.monotonic(), 0.1) * 1000))
            worker.join()
            pumped = 0
        else:
            pumped = _pump_stub(broker)
        if not sent and not pumped and not _pending_due(runtime):
            return
        if worker is not None:
            time.sleep(0.01)
    raise TimeoutError(f"robot runs still due after {timeout} s")
