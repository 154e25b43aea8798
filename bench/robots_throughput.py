"""End-to-end robot runs/s (a stage with three add_comment robots, 2 `kanban worker` processes, Redis +
PostgreSQL) next to a bare Dramatiq actor doing one PostgreSQL insert on the same setup, as a ratio.

Method, the same for both: the messages are queued first (deals moved into the robots' stage, or bare
messages sent), then the worker processes start; throughput is read from database timestamps (when each
run or insert finished) over the steady part, from the 10th to the 90th percentile of finishes, so process
start-up, connection warm-up and the last stragglers are not counted on either side. The machine is
shared and a single measurement drifts by ±30 %, so the two sides alternate for BENCH_ROUNDS rounds (each
on a fresh database and Redis) and the ratio of the medians is reported next to every round's.

Run: python -m bench.robots_throughput  (BENCH_DEALS=1000 deals -> 3,000 runs; BENCH_THREADS=8; BENCH_ROUNDS=3)
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import create_engine, select, text

from bench.harness import ROOT, fresh_database, machine_report
from bench.robots_support import kanban_workers, private_redis, producer, seed, wait_done
from kanban.db import make_engine
from kanban.events import Actor
from kanban.services.deals import move_deal
from robots.models import RobotRun

DEALS = int(os.environ.get("BENCH_DEALS", "1000"))
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Robots per stage entry: 3 by default; BENCH_ROBOTS_PER_ENTRY=1 leaves batching no advantage (issue 11 target 0.5).
PER_ENTRY = int(os.environ.get("BENCH_ROBOTS_PER_ENTRY", "3"))
PROCESSES = 2
BARE_ACTOR = "bench.bare_insert"
ROBOTS = [
    {"kind": "add_comment", "name": f"Comment {n}", "key": f"comment_{n}",
     "settings": {"text": f"Comment {n} on {{{{ deal.title }}}} ({{{{ deal.amount }}}} {{{{ deal.currency }}}})"}}
    for n in range(1, PER_ENTRY + 1)
]


def steady_rate(finishes: list[datetime]) -> tuple[float, float]:
    """(items/s between the 10th and 90th percentile of finish times, seconds of that window)."""
    times = sorted(finishes)
    low, high = len(times) // 10, len(times) * 9 // 10
    seconds = (times[high] - times[low]).total_seconds()
    return (high - low) / seconds, seconds


def robot_throughput(database_url: str, redis_url: str) -> tuple[float, int, float]:
    """(runs/s, runs, seconds) for DEALS deals moved into a stage with PER_ENTRY add_comment robots."""
    runtime = producer(database_url, redis_url)
    target, _, ids = seed(runtime, ROBOTS, DEALS)
    _move(runtime, ids, target)
    return run_until_done(runtime, database_url, redis_url, PER_ENTRY * DEALS)


def run_until_done(runtime, database_url: str, redis_url: str,  # type: ignore[no-untyped-def]
                   expected: int) -> tuple[float, int, float]:
    """Start the workers, wait for `expected` finished runs; (runs/s of the steady window, runs, seconds)."""
    with kanban_workers(database_url, redis_url, processes=PROCESSES, threads=THREADS):
        wait_done(runtime, expected)
    with runtime.sessions() as s:
        finishes = list(s.scalars(select(RobotRun.finished_at)))
    runtime.engine.dispose()
    rate, seconds = steady_rate(finishes)
    return rate, len(finishes), seconds


def _move(runtime, deal_ids: list[int], stage_id: int) -> None:  # type: ignore[no-untyped-def]
    """Each deal moved in its own transaction, as a rep dragging cards (or a trigger) would."""
    for deal_id in deal_ids:
        with runtime.sessions() as s, s.begin():
            move_deal(s, deal_id, stage_id, actor=Actor("system"))


def _bare_actor(broker: dramatiq.Broker, database_url: str) -> dramatiq.Actor:
    # The app's engine factory (same pool and pre-ping settings the robot workers get).
    engine = make_engine(database_url)

    def bare_insert(n: int) -> None:
        with engine.begin() as conn:
            conn.execute(text("insert into bench_inserts (n) values (:n)"), {"n": n})

    return dramatiq.actor(bare_insert, broker=broker, actor_name=BARE_ACTOR, max_retries=0)


def bare_worker(redis_url: str, database_url: str) -> None:
    """A worker process for the baseline: the bare actor only, THREADS threads, until SIGTERM."""
    broker = RedisBroker(url=redis_url)
    _bare_actor(broker, database_url)
    worker = dramatiq.Worker(broker, worker_threads=THREADS, worker_timeout=100)
    worker.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    worker.stop()


def bare_throughput(database_url: str, redis_url: str) -> tuple[float, int, float]:
    """(inserts/s, messages, seconds) for 3 * DEALS messages to the bare actor in PROCESSES processes."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("create table bench_inserts (id bigserial primary key, n int not null, "
                          "at timestamptz not null default clock_timestamp())"))
    actor = _bare_actor(RedisBroker(url=redis_url), database_url)
    total = 3 * DEALS
    for n in range(total):
        actor.send(n)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.robots_throughput", "bare-worker", redis_url,
                               database_url], cwd=ROOT, env={**os.environ}) for _ in range(PROCESSES)]
    try:
        _wait_rows(engine, total)
        with engine.connect() as conn:
            finishes = list(conn.execute(text("select at from bench_inserts")).scalars())
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
    engine.dispose()
    rate, seconds = steady_rate(finishes)
    return rate, total, seconds


def _wait_rows(engine, expected: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(text("select count(*) from bench_inserts")).scalar_one() >= expected:
                return
        time.sleep(0.05)
    raise TimeoutError("bare actor did not finish")


def _measure(side: str) -> tuple[float, int, float]:
    with fresh_database() as url, private_redis() as redis_url:
        return robot_throughput(url, redis_url) if side == "robots" else bare_throughput(url, redis_url)


def main() -> None:
    """Alternate both measurements for ROUNDS rounds, each on a fresh database and Redis; print the ratios."""
    results: dict[str, list[float]] = {"robots": [], "bare": []}
    for n in range(ROUNDS):
        order = ("robots", "bare") if n % 2 == 0 else ("bare", "robots")
        measured = {side: _measure(side) for side in order}
        for side, (rate, _, _) in measured.items():
            results[side].append(rate)
        robots, bare = measured["robots"], measured["bare"]
        print(f"round {n + 1}: robot runs {robots[0]:.0f}/s ({robots[1]} runs, steady part {robots[2]:.1f} s), "
              f"bare actor {bare[0]:.0f}/s ({bare[1]} messages, steady part {bare[2]:.1f} s), "
              f"ratio {robots[0] / bare[0]:.2f}", flush=True)
    robots_rate, bare_rate = statistics.median(results["robots"]), statistics.median(results["bare"])
    print(f"robot runs ({PER_ENTRY} x add_comment per stage entry, {PROCESSES} processes x {THREADS} threads): "
          f"median {robots_rate:.0f} runs/s")
    print(f"bare Dramatiq actor, one PostgreSQL insert:       median {bare_rate:.0f} msgs/s")
    target = "0.5" if PER_ENTRY == 1 else "0.4"
    print(f"ratio robots / bare (medians): {robots_rate / bare_rate:.2f}  (target >= {target})")
    print(machine_report())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "bare-worker":
        bare_worker(sys.argv[2], sys.argv[3])
    else:
        main()
