"""Fault test: real Redis + PostgreSQL, `kanban worker` processes SIGKILLed and Redis restarted empty.

1,750 robot runs (350 deals × three stage robots: two that start together and so travel in one message and
share one transaction, then a third that waits for them and is delayed; plus two actions of an event automation
on deal.created, the second chained and delayed, batched by execution) execute while worker processes
are killed with SIGKILL several times and the private Redis server is killed and restarted empty once.
The side effect is a timeline row written in the run's transaction WITHOUT any unique key, so a run
executed twice would show up as two rows: afterwards every run is done and has exactly one row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.db import make_engine
from kanban.events import Actor
from kanban.models import TimelineEntry
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from robots.context import RunContext
from robots.models import Automation, Robot, RobotRun
from robots.registry import KindSettings, RobotKind, registry
from tests.conftest import _truncate
from tests.private_redis import PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DEALS = 350
ROBOTS = 5  # per deal: three stage robots and two automation actions
REQUEUE_AFTER = 2.0


class FaultCountSettings(KindSettings):
    pause_ms: int = 0


class FaultCount(RobotKind):
    """Test kind: one timeline row per execution, with no unique key (duplicates would be visible)."""

    kind = "fault_count"
    title = "Fault counter (tests)"
    category = "deal"
    Settings = FaultCountSettings
    outputs = ("n",)

    def run(self, ctx: RunContext, settings: FaultCountSettings) -> dict[str, Any]:
        ctx.session.add(TimelineEntry(deal_id=ctx.deal_id, kind="fault_count", text=str(ctx.run_id),
                                      actor_type="robot", actor_id=ctx.robot_id, data={"run": ctx.run_id}))
        ctx.session.flush()
        if settings.pause_ms:
            time.sleep(settings.pause_ms / 1000)  # widen the window in which a SIGKILL lands mid-transaction
        return {"n": ctx.run_id}


WORKER_CODE = (
    "import sys; from tests.robots.test_fault import FaultCount; from robots.registry import registry; "
    "registry.add(FaultCount.kind, FaultCount); from kanban.cli import main; "
    "main(['worker', '--threads', '4', '--requeue-after', sys.argv[1]], prog_name='kanban')"
)


@pytest.fixture
def fault_runtime(postgresql_database_url: str, redis_server: PrivateRedis, tmp_path: Path) -> Iterator[Any]:
    """A producer runtime on PostgreSQL + the private Redis, with the counting kind registered."""
    env = {"DATABASE_URL": postgresql_database_url, "REDIS_URL": redis_server.url,
           "KANBAN_SECRET_KEY": "fault-test", "KANBAN_DATA_DIR": str(tmp_path)}
    engine = make_engine(postgresql_database_url)
    _truncate(engine)
    registry.add(FaultCount.kind, FaultCount)
    runtime = bootstrap(load_settings(**env), engine=engine)
    runtime.extras["test.env"] = env
    yield runtime
    registry._items.pop(FaultCount.kind, None)
    for fn in reversed(runtime.shutdown):
        fn()
    engine.dispose()


def _worker(env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER_CODE, str(REQUEUE_AFTER)], cwd=ROOT,
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _setup(runtime: Any) -> int:
    with runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Fault", [{"name": "In"}, {"name": "Out"}])
        stage_id = pipeline.stages[0].id
        s.add(Robot(stage_id=stage_id, kind="fault_count", name="first", key="first", position=0,
                    settings={"pause_ms": 5}))
        s.add(Robot(stage_id=stage_id, kind="fault_count", name="second", key="second", position=1,
                    settings={"pause_ms": 5}))
        s.add(Robot(stage_id=stage_id, kind="fault_count", name="third", key="third", position=2,
                    after_previous=True, delay={"type": "after", "seconds": 1}, settings={"pause_ms": 5}))
        automation = Automation(name="On creation", event="deal.created", description="", fields=[], active=True)
        s.add(automation)
        s.flush()
        s.add(Robot(automation_id=automation.id, kind="fault_count", name="a1", key="a1", position=0,
                    settings={"pause_ms": 5}))
        s.add(Robot(automation_id=automation.id, kind="fault_count", name="a2", key="a2", position=1,
                    after_previous=True, delay={"type": "after", "seconds": 1}, settings={"pause_ms": 5}))
        return pipeline.id


def _progress(runtime: Any) -> dict[str, int]:
    with runtime.sessions() as s:
        return dict(s.execute(select(RobotRun.status, func.count()).group_by(RobotRun.status)).all())


def test_no_run_is_lost_or_duplicated_when_workers_and_redis_die(fault_runtime: Any, redis_server: PrivateRedis,
                                                                  tmp_path: Path) -> None:
    runtime = fault_runtime
    pipeline_id = _setup(runtime)
    log = open(tmp_path / "workers.log", "wb")  # noqa: SIM115 - closed in finally
    env = runtime.extras["test.env"]
    workers = [_worker(env, log), _worker(env, log)]
    rng = random.Random(7)
    kills = restarts = 0
    started = time.monotonic()
    try:
        for batch in range(DEALS // 25):
            with runtime.sessions() as s, s.begin():
                for n in range(25):
                    create_deal(s, title=f"deal {batch}-{n}", pipeline_id=pipeline_id, actor=Actor("system"))
            if batch % 2 == 1:
                victim = rng.randrange(len(workers))
                os.killpg(workers[victim].pid, signal.SIGKILL)
                workers[victim].wait(10)
                kills += 1
                workers[victim] = _worker(env, log)
            if batch == 6:
                redis_server.kill()
                time.sleep(0.5)
                redis_server.start()  # empty: every queued message is gone
                restarts += 1
            time.sleep(0.25)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            progress = _progress(runtime)
            if progress.get("done", 0) == ROBOTS * DEALS:
                break
            time.sleep(0.5)
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    elapsed = time.monotonic() - started
    assert kills >= 5 and restarts == 1
    progress = _progress(runtime)
    assert progress == {"done": ROBOTS * DEALS}, f"after {elapsed:.0f}s: {progress}; see {tmp_path / 'workers.log'}"
    with runtime.sessions() as s:
        per_run = dict(s.execute(select(TimelineEntry.text, func.count()).where(TimelineEntry.kind == "fault_count")
                                 .group_by(TimelineEntry.text)).all())
        run_ids = {str(i) for i in s.scalars(select(RobotRun.id))}
        outputs_ok = s.scalar(select(func.count()).select_from(RobotRun).where(RobotRun.attempts >= 1))
        automation_runs = s.scalar(select(func.count()).select_from(RobotRun).where(RobotRun.execution_id.is_not(None)))
    lost = run_ids - set(per_run)
    duplicated = {run: n for run, n in per_run.items() if n != 1}
    assert (len(lost), len(duplicated)) == (0, 0), f"lost {sorted(lost)[:10]}, duplicated {duplicated}"
    assert set(per_run) == run_ids and outputs_ok == ROBOTS * DEALS and automation_runs == 2 * DEALS
    print(f"\nfault test: {ROBOTS * DEALS} runs, {kills} SIGKILLs, {restarts} Redis restart, {elapsed:.1f}s, "
          "0 lost, 0 duplicated")
