"""Event automations on the robot engine: action throughput next to the bare Dramatiq actor doing one PostgreSQL
insert (the same method and baseline as bench.robots_throughput), and event → first action done latency.

Throughput: BENCH_DEALS deals are moved into a stage (no stage robots there); each move records
deal.stage_changed, which an automation with three add_comment actions matches, so every move schedules an
execution of three runs in its transaction. The runs are queued first, then `kanban worker` processes start;
the rate is read from the runs' finish times over the 10th–90th percentile window. The bare side is
bench.robots_throughput's (3 × BENCH_DEALS messages). Latency: with the workers running, BENCH_EVENTS moves are
made at BENCH_RATE per second and each execution's first finished action is compared with its event's time.

Run: python -m bench.automations_throughput  (BENCH_DEALS=1000, BENCH_THREADS=8, BENCH_ROUNDS=1,
BENCH_EVENTS=300, BENCH_RATE=20; BENCH_CHAINED=1 makes the actions wait for each other, Pipedrive-style)
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from sqlalchemy import func, select

from bench.harness import fresh_database
from bench.robots_support import kanban_workers, private_redis, producer, seed, wait_done
from bench.robots_throughput import PROCESSES, THREADS, _move, bare_throughput, run_until_done
from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.services.deals import move_deal
from robots import automations
from robots.models import AutomationExecution, RobotRun

DEALS = int(os.environ.get("BENCH_DEALS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "300"))
RATE = float(os.environ.get("BENCH_RATE", "20"))
CHAINED = os.environ.get("BENCH_CHAINED", "0") == "1"
ACTIONS = [{"kind": "add_comment", "key": f"comment_{n}", "after_previous": CHAINED,
            "settings": {"text": f"Comment {n} on {{{{ deal.title }}}} ({{{{ event.type }}}})"}} for n in (1, 2, 3)]


def _automation(runtime: Any, stage_id: int) -> None:
    """An automation on deal.stage_changed into `stage_id`, with the three actions."""
    with runtime.sessions() as s, s.begin():
        auto = automations.create_automation(s, {
            "name": "Bench", "event": "deal.stage_changed",
            "condition": {"all": [{"field": "event.to", "op": "=", "value": str(stage_id)}]}}, owner_id=None)
        for action in ACTIONS:
            automations.add_action(s, auto.id, action)


def automation_throughput(database_url: str, redis_url: str) -> tuple[float, int, float]:
    """(action runs/s, runs, seconds of the steady window)."""
    runtime = producer(database_url, redis_url)
    target, _, ids = seed(runtime, [], DEALS)
    _automation(runtime, target)
    _move(runtime, ids, target)
    return run_until_done(runtime, database_url, redis_url, 3 * DEALS)


def event_latency(database_url: str, redis_url: str) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, executions): event recorded → first action of its execution finished, at RATE events/s."""
    runtime = producer(database_url, redis_url)
    target, _, ids = seed(runtime, [], EVENTS + 1)
    _automation(runtime, target)
    with kanban_workers(database_url, redis_url, processes=PROCESSES, threads=THREADS):
        # A warm-up event, not counted: the worker processes take seconds to start consuming.
        with runtime.sessions() as s, s.begin():
            warm_up = move_deal(s, ids[0], target, actor=Actor("system")).deal.id
        wait_done(runtime, 3)
        started = time.monotonic()
        for n, deal_id in enumerate(ids[1:]):
            with runtime.sessions() as s, s.begin():
                move_deal(s, deal_id, target, actor=Actor("system"))
            time.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
        wait_done(runtime, 3 * (EVENTS + 1))
    with runtime.sessions() as s:
        rows = s.execute(
            select(DomainEvent.created_at, func.min(RobotRun.finished_at))
            .join(AutomationExecution, AutomationExecution.event_id == DomainEvent.id)
            .join(RobotRun, RobotRun.execution_id == AutomationExecution.id)
            .where(AutomationExecution.deal_id != warm_up)
            .group_by(AutomationExecution.id, DomainEvent.created_at)).all()
    runtime.engine.dispose()
    waits = sorted((done - at).total_seconds() * 1000 for at, done in rows)
    return statistics.median(waits), waits[min(len(waits) - 1, int(len(waits) * 0.99))], len(waits)


def main() -> None:
    """Alternate automation and bare rounds, then measure the latency once; print rates, ratio, p50/p99."""
    autos: list[float] = []
    bares: list[float] = []
    for n in range(ROUNDS):
        with fresh_database() as url, private_redis() as redis_url:
            rate, runs, seconds = automation_throughput(url, redis_url)
        with fresh_database() as url, private_redis() as redis_url:
            bare, messages, bare_seconds = bare_throughput(url, redis_url)
        autos.append(rate)
        bares.append(bare)
        print(f"round {n + 1}: automation actions {rate:.0f}/s ({runs} runs, steady {seconds:.1f} s), bare actor "
              f"{bare:.0f}/s ({messages} messages, steady {bare_seconds:.1f} s), ratio {rate / bare:.2f}", flush=True)
    with fresh_database() as url, private_redis() as redis_url:
        p50, p99, count = event_latency(url, redis_url)
    print(f"automation actions ({'chained' if CHAINED else 'together'}, {PROCESSES} processes x {THREADS} threads): "
          f"median {statistics.median(autos):.0f} runs/s; bare actor median {statistics.median(bares):.0f} msgs/s; "
          f"ratio {statistics.median(autos) / statistics.median(bares):.2f} (target >= 0.5)")
    print(f"event -> first action done at {RATE:.0f} events/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms ({count} events)")


if __name__ == "__main__":
    main()
