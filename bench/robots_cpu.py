"""Where the CPU goes: CPU milliseconds per item in the worker processes, the PostgreSQL backends of the bench
database and the private Redis, for the robot runs and for the bare actor of bench.robots_throughput.

The machine has two cores shared by everything, so throughput follows CPU per item; this reads it from
/proc (Linux) every 0.2 s and keeps the steady part (10% to 90% of the items finished), so process start-up
and the producer are not counted.

Run: python -m bench.robots_cpu        (same BENCH_DEALS / BENCH_THREADS as bench.robots_throughput)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from bench.harness import fresh_database
from bench.robots_support import private_redis
from bench.robots_throughput import bare_throughput, robot_throughput

TICK = os.sysconf("SC_CLK_TCK")
WORKERS = ("kanban.cli worker --processes 1", "bare-worker")


def _cpu(pid: str) -> tuple[str, float] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode()
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return cmd, (int(fields[11]) + int(fields[12])) / TICK


def snapshot(dbname: str, redis_port: str) -> dict[str, float]:
    """Cumulative CPU seconds of the worker processes, the bench database's backends and the private Redis."""
    out = {"worker": 0.0, "postgresql": 0.0, "redis": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        found = _cpu(pid)
        if found is None:
            continue
        cmd, cpu = found
        if any(marker in cmd for marker in WORKERS):
            out["worker"] += cpu
        elif cmd.startswith("postgres:") and dbname in cmd:
            out["postgresql"] += cpu
        elif cmd.startswith("redis-server") and f":{redis_port}" in cmd:
            out["redis"] += cpu
    return out


def measure(name: str, run: Callable[[str, str], Any], finished_sql: str) -> None:
    """Run one side of the throughput bench while sampling CPU; print CPU ms per item in the steady part."""
    with fresh_database() as url, private_redis() as redis_url:
        dbname, port = url.rsplit("/", 1)[1], redis_url.rsplit(":", 1)[1].split("/")[0]
        samples: list[tuple[datetime, dict[str, float]]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((datetime.now(UTC), snapshot(dbname, port)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rate = run(url, redis_url)[0]
        stop.set()
        sampler.join()
        engine = create_engine(url)
        with engine.connect() as conn:
            times = [row[0] for row in conn.execute(text(finished_sql))]
        engine.dispose()
    low, high = times[len(times) // 10], times[len(times) * 9 // 10]
    start = next(s for s in samples if s[0] >= low)
    end = [s for s in samples if s[0] <= high][-1]
    items = sum(1 for t in times if start[0] <= t <= end[0])
    per = {key: (end[1][key] - start[1][key]) / max(items, 1) * 1000 for key in start[1]}
    parts = ", ".join(f"{key} {value:.3f}" for key, value in per.items())
    print(f"{name}: {rate:.0f}/s; CPU ms per item: {parts}; total {sum(per.values()):.3f}")


def main() -> None:
    """Robot runs, then the bare actor."""
    measure("robot runs", robot_throughput, "select finished_at from robot_runs order by finished_at")
    measure("bare actor", bare_throughput, "select at from bench_inserts order by at")


if __name__ == "__main__":
    main()
