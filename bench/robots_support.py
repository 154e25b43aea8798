"""Shared plumbing for the robot benchmarks: a private Redis, `kanban worker` processes, seeding, waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from bench.harness import ROOT, free_port
from kanban.bootstrap import Runtime, bootstrap
from kanban.config import load_settings
from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from kanban.services.users import create_user
from robots.models import Robot, RobotRun


@contextmanager
def private_redis() -> Iterator[str]:
    """A throw-away, non-persistent redis-server on a free port; yields its URL."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait(10)


@contextmanager
def kanban_workers(database_url: str, redis_url: str, *, processes: int = 2, threads: int = 8) -> Iterator[None]:
    """`kanban worker --processes N` in a subprocess (its own process group), stopped with SIGTERM."""
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KANBAN_SECRET_KEY": "bench"}
    cmd = [sys.executable, "-m", "kanban.cli", "worker", "--processes", str(processes), "--threads", str(threads)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def producer(database_url: str, redis_url: str) -> Runtime:
    """A runtime that creates and moves deals (its messages go to Redis; it runs no worker itself)."""
    return bootstrap(load_settings(DATABASE_URL=database_url, REDIS_URL=redis_url, KANBAN_SECRET_KEY="bench"))


def seed(runtime: Runtime, robots: list[dict[str, Any]], deals: int,
         fields: list[dict[str, Any]] | None = None) -> tuple[int, int, list[int]]:
    """A user, a pipeline Start → Robots with the given robots on Robots, and deals waiting in Start."""
    with runtime.sessions() as s, s.begin():
        user = create_user(s, email="bench-robots@example.com", name="Bench Rep", role="rep", password="benchpass1")
        pipeline = create_pipeline(s, "Robots bench", [{"name": "Start"}, {"name": "Robots"}])
        start, target = pipeline.stages[0].id, pipeline.stages[1].id
        for position, spec in enumerate(robots):
            s.add(Robot(stage_id=target, position=position, **spec))
        pipeline_id, user_id = pipeline.id, user.id
    ids: list[int] = []
    for first in range(0, deals, 200):
        with runtime.sessions() as s, s.begin():
            for n in range(first, min(first + 200, deals)):
                deal = create_deal(s, title=f"Bench deal {n}", pipeline_id=pipeline_id, stage_id=start,
                                   responsible_id=user_id, actor=Actor("system"),
                                   fields=fields[n] if fields else None)
                ids.append(deal.id)
    return target, start, ids


def wait_done(runtime: Runtime, expected: int, timeout: float = 600) -> None:
    """Wait until `expected` runs are finished (any final status); raise on timeout or on failures."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.sessions() as s:
            counts = dict(s.execute(select(RobotRun.status, func.count()).group_by(RobotRun.status)).all())
        finished = sum(n for status, n in counts.items() if status not in ("scheduled", "waiting", "running"))
        if finished >= expected:
            if set(counts) != {"done"}:
                raise RuntimeError(f"runs did not all succeed: {counts}")
            return
        time.sleep(0.2)
    raise TimeoutError(f"runs not finished after {timeout} s")
