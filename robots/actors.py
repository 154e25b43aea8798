"""The Dramatiq actor that executes robot runs (messages carry run ids only), and a drain helper for tests.

A message carries the due runs of one stage entry (a move into a stage with three robots is one message, not
three): they would queue behind each other on the deal's row lock anyway, so one worker thread executes them
in order and the per-message broker cost is paid once. They share one transaction (one commit) while all of
them succeed; if one fails, the batch is rolled back and every run is executed in a transaction of its own
(the failed one is only recorded). A robot that calls the outside world always has a transaction of its own.
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
from robots.engine import RunUndoneError, execute_batch, execute_run, record_crash, record_failure
from robots.models import RobotRun

log = logging.getLogger(__name__)
ACTOR_NAME = "robots.execute_run"
BULK_ACTOR_NAME = "robots.execute_run_bulk"
BULK_QUEUE = "robots_bulk"
BULK_PRIORITY = 100  # dramatiq: lower numbers first; the run actor has 0


def install(runtime: Any) -> Callable[..., None]:
    """Declare the run actors on the runtime's broker; returns send(batches, low=False): one message per batch of
    run ids (low: on the bulk queue, with the lower priority)."""
    broker = runtime.extras["broker"]

    def execute(run_ids: int | list[int]) -> None:
        ids = run_ids if isinstance(run_ids, list) else [run_ids]
        # One pool checkout (and liveness ping) for the whole message.
        with runtime.engine.connect() as connection:
            while ids:
                handled = 0
                if len(ids) > 1:
                    try:
                        handled = execute_batch(runtime, ids, bind=connection)
                    except RunUndoneError as exc:  # the batch rolled back; that run's attempt is recorded below
                        if exc.crash:
                            log.error("robot run %s crashed", exc.run_id, exc_info=exc.__cause__)
                        connection.rollback()
                        _one_by_one(runtime, ids, connection, undone=exc)
                        return
                    except Exception:  # noqa: BLE001 - actor boundary: the batch rolled back; each run goes alone
                        log.exception("robot runs %s: the batch failed; executing them one by one", ids)
                        connection.rollback()
                        _one_by_one(runtime, ids, connection)
                        return
                if handled == 0:  # a single run
                    _one_by_one(runtime, ids[:1], connection)
                    handled = 1
                ids = ids[handled:]

    actor = dramatiq.actor(execute, broker=broker, actor_name=ACTOR_NAME, max_retries=0)
    # Runs of bulk moves: the same work on a queue of their own with a lower priority. A worker prefetches
    # from each queue separately and executes the higher priority first, so a rep's single move is not
    # queued behind a thousand bulk-moved deals' robots (and the bulk queue still drains when idle).
    bulk_actor = dramatiq.actor(execute, broker=broker, actor_name=BULK_ACTOR_NAME, queue_name=BULK_QUEUE,
                                priority=BULK_PRIORITY, max_retries=0)

    def send(batches: list[list[int]], *, low: bool = False) -> None:
        target = bulk_actor if low else actor
        for batch in batches:
            try:
                target.send(list(batch))
            except (dramatiq.DramatiqError, RedisError, OSError):
                # The broker is away: the dispatcher re-sends runs still scheduled, nothing is lost.
                log.exception("could not send robot runs %s; the dispatcher will re-send them", batch)

    runtime.extras["robots.actor"] = actor
    runtime.extras["robots.send"] = send
    return send


def _one_by_one(runtime: Any, ids: list[int], connection: Any, undone: RunUndoneError | None = None) -> None:
    """Each run in a transaction of its own; `undone` names a run whose failed attempt is only recorded
    (it already ran once, in a batch that was rolled back)."""
    for run_id in ids:
        try:
            if undone is not None and run_id == undone.run_id:
                record_failure(runtime, run_id, undone.error, permanent=undone.permanent, attempt=undone.attempt)
            else:
                execute_run(runtime, run_id, bind=connection)
        except Exception as exc:  # noqa: BLE001 - actor boundary: an unexpected error is a failed attempt
            log.exception("robot run %s crashed", run_id)
            connection.rollback()
            record_crash(runtime, run_id, f"{type(exc).__name__}: {exc}")


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
