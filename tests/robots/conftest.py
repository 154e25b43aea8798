"""Robot engine fixtures: a controllable clock, test-only kinds, robots on the sales pipeline, drain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import Field
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import TimelineEntry
from kanban.services.deals import create_deal, move_deal
from robots.actors import drain
from robots.context import RunContext
from robots.errors import LoopBlockedError, PermanentError, TransientError
from robots.models import Robot, RobotRun
from robots.registry import KindSettings, RobotKind, registry


class FakeClock:
    """kanban.clock.now replaced by a clock that only moves when told."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freeze kanban.clock.now (the only clock the engine reads)."""
    fake = FakeClock()
    monkeypatch.setattr("kanban.clock.now", fake)
    return fake


# marker -> failures still to raise ("transient" | "permanent" | "crash" | "memory")
FAILURES: dict[str, list[str]] = {}


class EchoSettings(KindSettings):
    text: str = Field(default="echo")
    marker: str = ""


class Echo(RobotKind):
    """Test kind: writes one timeline comment keyed by run id and outputs the rendered text."""

    kind = "test_echo"
    title = "Echo (tests)"
    category = "deal"
    Settings = EchoSettings
    outputs = ("text", "run_id")
    templates = {"text": "text"}
    needs_deal = False

    def run(self, ctx: RunContext, settings: EchoSettings) -> dict[str, Any]:
        text = ctx.render(settings.text)
        if ctx.deal_id is not None:  # an automation's run on a person, organization or deleted deal has none
            ctx.session.add(TimelineEntry(deal_id=ctx.deal_id, kind="comment", text=text, run_id=ctx.run_id,
                                          actor_type="robot", actor_id=ctx.robot_id, data={}))
            ctx.session.flush()
        pending = FAILURES.get(settings.marker) or []
        if pending:
            what = pending.pop(0)
            if what == "transient":
                raise TransientError("provider answered 503")
            if what == "permanent":
                raise PermanentError("no email address")
            if what == "memory":
                raise MemoryError
            raise RuntimeError("kind bug")
        return {"text": text, "run_id": ctx.run_id}


class MoveSettings(KindSettings):
    stage_id: int


class Move(RobotKind):
    """Test kind: moves the deal like change_stage does (blocked by the loop guard → LoopBlockedError)."""

    kind = "test_move"
    title = "Move (tests)"
    category = "deal"
    Settings = MoveSettings

    def run(self, ctx: RunContext, settings: MoveSettings) -> dict[str, Any]:
        result = ctx.move(settings.stage_id)
        if result.blocked:
            raise LoopBlockedError(result.blocked)
        return {}


@pytest.fixture
def test_kinds() -> Iterator[None]:
    """Register the test-only kinds for one test and remove them after."""
    FAILURES.clear()
    for kind in (Echo, Move):
        registry.add(kind.kind, kind)
    yield
    for kind in (Echo, Move):
        registry._items.pop(kind.kind, None)
    FAILURES.clear()


@pytest.fixture
def stages(pipeline: Any) -> dict[str, int]:
    """Stage ids of the sales pipeline by name."""
    return {s.name: s.id for s in pipeline.stages}


@pytest.fixture
def add_robot(runtime: Any, test_kinds: None) -> Any:
    """Create a robot row directly (configuration validation is robots.config's business)."""
    counter = {"n": 0}

    def add(stage_id: int, key: str, kind: str = "test_echo", **fields: Any) -> int:
        counter["n"] += 1
        with runtime.sessions() as s, s.begin():
            robot = Robot(stage_id=stage_id, kind=kind, name=fields.pop("name", key), key=key,
                          settings=fields.pop("settings", {}), delay=fields.pop("delay", {"type": "now"}),
                          condition=fields.pop("condition", None), position=fields.pop("position", counter["n"]),
                          after_previous=fields.pop("after_previous", False), active=fields.pop("active", True))
            s.add(robot)
            s.flush()
            return robot.id

    return add


@pytest.fixture
def new_deal(runtime: Any, pipeline: Any) -> Any:
    """Create a deal (in the first stage unless told) in its own transaction; returns its id."""

    def make(stage_id: int | None = None, **values: Any) -> int:
        with runtime.sessions() as s, s.begin():
            deal = create_deal(s, title=values.pop("title", "Acme"), pipeline_id=pipeline.id, stage_id=stage_id,
                               actor=Actor("system"), **values)
            return deal.id

    return make


@pytest.fixture
def move(runtime: Any) -> Any:
    """Move a deal as a user in its own transaction."""

    def do(deal_id: int, stage_id: int) -> None:
        with runtime.sessions() as s, s.begin():
            move_deal(s, deal_id, stage_id, actor=Actor("system"))

    return do


@pytest.fixture
def runs(runtime: Any) -> Any:
    """The deal's runs (fresh rows), in creation order."""

    def get(deal_id: int) -> list[RobotRun]:
        with runtime.sessions() as s:
            return list(s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id).order_by(RobotRun.id)))

    return get


@pytest.fixture
def run_all(runtime: Any) -> Any:
    """Drain everything due now."""
    return lambda timeout=10.0: drain(runtime, timeout)
