"""`kanban worker`: needs Redis; runs robots, restarts a killed worker process, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kanban.cli import main
from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from robots.models import Robot, RobotRun
from tests.robots.test_fault import ROOT, fault_runtime  # noqa: F401 - fixture (redis_server comes from tests/conftest.py)


def test_worker_needs_redis(tmp_path: Any) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "REDIS_URL": None, "KANBAN_SECRET_KEY": "x"}
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 2


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _wait(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.redis
@pytest.mark.slow
def test_worker_processes_run_robots_and_survive_a_killed_child(fault_runtime: Any, tmp_path: Any) -> None:  # noqa: F811
    runtime = fault_runtime
    with runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Worker", [{"name": "In"}])
        s.add(Robot(stage_id=pipeline.stages[0].id, kind="add_comment", name="hi", key="hi", position=0,
                    settings={"text": "Hello {{ deal.title }}"}))
        pipeline_id = pipeline.id

    def add_deal() -> int:
        with runtime.sessions() as s, s.begin():
            return create_deal(s, title="W", pipeline_id=pipeline_id, actor=Actor("system")).id

    def status(deal_id: int) -> str:
        with runtime.sessions() as s:
            return s.scalar(select(RobotRun.status).where(RobotRun.deal_id == deal_id)) or ""

    env = {**os.environ, **runtime.extras["test.env"]}
    proc = subprocess.Popen([sys.executable, "-m", "kanban.cli", "worker", "--processes", "2", "--threads", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = add_deal()
        _wait(lambda: status(first) == "done")
        _wait(lambda: len(_children(proc.pid)) == 2)
        victim = _children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: len(_children(proc.pid)) == 2 and victim not in _children(proc.pid))
        second = add_deal()
        _wait(lambda: status(second) == "done")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(40)
    assert code == 0
    assert _children(proc.pid) == []
