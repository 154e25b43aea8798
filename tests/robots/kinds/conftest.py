"""Kind test harness: run one robot kind in its own transaction, with a real RunContext on both databases."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from kanban import clock
from kanban.bootstrap import Runtime
from kanban.events import Actor
from kanban.models import Deal, Department
from kanban.services.deals import create_deal
from kanban.services.users import create_user
from robots.context import RunContext
from robots.models import Robot, RobotRun
from robots.registry import load_kinds
from robots.templating import render
from robots.values import template_values

_SERIAL = itertools.count(1)


@dataclass
class Kit:
    """A deal in the pipeline's first stage, some people, and a way to run kinds against it."""

    runtime: Runtime
    pipeline: Any
    admin: Any
    rep: Any
    deal_id: int
    services: dict[str, Any] = field(default_factory=dict)
    last_run_id: int = 0

    def robot(self, kind: str, settings: dict[str, Any], key: str | None = None) -> int:
        """An (inactive, so never scheduled) robot row on the deal's current stage."""
        with self.runtime.sessions() as s, s.begin():
            deal = s.get(Deal, self.deal_id)
            robot = Robot(stage_id=deal.stage_id, kind=kind, name=kind, key=key or f"{kind}_{next(_SERIAL)}",
                          settings=settings, active=False)
            s.add(robot)
            s.flush()
            return robot.id

    def run(self, kind: str, settings: dict[str, Any], *, robot_id: int | None = None,
            outputs_by_key: dict[str, dict[str, Any]] | None = None,
            cause: tuple[dict[str, Any], ...] = (), deal_id: int | None = None,
            before_commit: Callable[[], None] | None = None) -> dict[str, Any]:
        """Validate settings, run the kind in one transaction as the engine would, record the run done."""
        cls = load_kinds().get(kind)
        parsed = cls.Settings.model_validate(settings)
        robot_id = robot_id or self.robot(kind, settings)
        with self.runtime.sessions() as s, s.begin():
            deal = s.get(Deal, deal_id or self.deal_id)
            robot = s.get(Robot, robot_id)
            run = RobotRun(robot_id=robot.id, deal_id=deal.id, stage_id=deal.stage_id,
                           stage_entry_id=deal.current_entry_id, kind=kind, robot_key=robot.key, status="running",
                           started_at=clock.now(), attempts=1)
            s.add(run)
            s.flush()
            ctx = RunContext(
                session=s, settings=self.runtime.settings, run_id=run.id, robot_id=robot.id,
                robot_key=robot.key, deal_id=deal.id, stage_id=deal.stage_id, stage_entry_id=run.stage_entry_id,
                now=clock.now(), values=template_values(s, deal.id, deal.stage_id, outputs_by_key or {},
                                                        public_url=self.runtime.settings.public_url),
                render_fn=render, cause=cause, services=self.services or self.runtime.extras["services"],
            )
            outputs = cls().run(ctx, parsed)
            assert set(outputs) <= set(cls.outputs), f"undeclared outputs {set(outputs) - set(cls.outputs)}"
            run.outputs = outputs
            run.status = "done"
            run.finished_at = clock.now()
            self.last_run_id = run.id
            if before_commit is not None:
                s.flush()
                before_commit()
            return outputs

    def new_deal(self, title: str) -> int:
        """Another deal in the first stage (robots run once per deal and stage entry)."""
        with self.runtime.sessions() as s, s.begin():
            return create_deal(s, title=title, pipeline_id=self.pipeline.id, actor=Actor.user(self.admin.id)).id


@pytest.fixture
def kit(runtime: Runtime, pipeline: Any, admin: Any, rep: Any) -> Kit:
    """A deal "Acme renewal" (1,250.00 USD, responsible rep, contact with email) in stage New."""
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Acme renewal", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                           amount=125000, currency="USD", responsible_id=rep.id,
                           contact={"name": "Carla Client", "email": "carla@client.example", "phone": "+155577"},
                           fields={"source": "web"}, tags=["vip"])
        deal_id = deal.id
    return Kit(runtime, pipeline, admin, rep, deal_id)


@pytest.fixture
def people(runtime: Runtime, admin: Any, rep: Any) -> dict[str, Any]:
    """More users: a second rep, an inactive rep, a department head of Sales."""
    with runtime.sessions() as s, s.begin():  # no passwords: hashing them would only slow the tests down
        boss = create_user(s, email="boss@example.com", name="Bea Boss", role="admin", department="Sales",
                           phone="+15550009")
        other = create_user(s, email="other@example.com", name="Otto Other", department="Support")
        gone = create_user(s, email="gone@example.com", name="Gina Gone", department="Sales")
        gone.active = False
        s.query(Department).filter_by(name="Sales").one().head_id = boss.id
    return {"admin": admin, "rep": rep, "boss": boss, "other": other, "gone": gone}
