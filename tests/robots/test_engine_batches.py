"""A stage entry's due runs share one transaction: what that must not change (each run's outcome, what later
runs see, failures recorded once) and where it must stop (a robot that calls the outside world)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from kanban.models import Deal, TimelineEntry
from robots.actors import _pump_stub
from robots.context import RunContext
from robots.registry import KindSettings, RobotKind, registry
from tests.robots.conftest import FAILURES

EVENTS: list[str] = []


class OutsideSettings(KindSettings):
    pass


class Outside(RobotKind):
    """Test kind that 'calls the outside world': it only records when it ran, between the commits."""

    kind = "test_outside"
    title = "Outside call (tests)"
    category = "integration"
    Settings = OutsideSettings
    effect = "external"

    def run(self, ctx: RunContext, settings: OutsideSettings) -> dict[str, Any]:
        EVENTS.append("outside call")
        return {}


@pytest.fixture
def commits(runtime: Any) -> Iterator[list[str]]:
    """EVENTS, with "commit" appended at every commit of the runtime's engine (and the outside kind registered)."""
    EVENTS.clear()
    registry.add(Outside.kind, Outside)

    def on_commit(_conn: Any) -> None:
        EVENTS.append("commit")

    event.listen(runtime.engine, "commit", on_commit)
    yield EVENTS
    event.remove(runtime.engine, "commit", on_commit)
    registry._items.pop(Outside.kind, None)


def _deliver(runtime: Any, commits: list[str]) -> None:
    """Execute the queued message(s) in this thread, counting only their commits."""
    commits.clear()
    assert _pump_stub(runtime.extras["broker"]) == 1


def test_runs_of_one_entry_commit_once_with_every_outcome_written(runtime, stages, add_robot, new_deal, runs,
                                                                  commits) -> None:
    for key in ("a", "b", "c"):
        add_robot(stages["New"], key, settings={"text": f"{key} on {{{{ deal.title }}}}"})
    deal_id = new_deal()
    _deliver(runtime, commits)
    assert commits == ["commit"]
    assert [(r.status, r.attempts, r.outputs["text"]) for r in runs(deal_id)] == [
        ("done", 1, "a on Acme"), ("done", 1, "b on Acme"), ("done", 1, "c on Acme")]
    assert all(r.started_at is not None and r.finished_at is not None for r in runs(deal_id))


def test_a_later_run_of_the_batch_sees_what_an_earlier_one_changed(runtime, stages, add_robot, new_deal, runs,
                                                                   rep, commits) -> None:
    add_robot(stages["New"], "rename", kind="modify_deal", settings={"fields": {"title": "Renamed"}})
    add_robot(stages["New"], "assign", kind="change_responsible", settings={"users": [rep.id], "mode": "first"})
    add_robot(stages["New"], "echo", settings={"text": "{{ deal.title }} for {{ responsible.name }}"})
    deal_id = new_deal()
    _deliver(runtime, commits)
    rename, assign, echo = runs(deal_id)
    assert (rename.status, assign.status, echo.status) == ("done", "done", "done")
    assert echo.outputs["text"] == f"Renamed for {rep.name}"


def test_a_stage_change_stops_the_rest_of_the_batch_without_counting_an_attempt(runtime, stages, add_robot,
                                                                                 new_deal, runs, commits) -> None:
    add_robot(stages["New"], "first")
    add_robot(stages["New"], "move", kind="test_move", settings={"stage_id": stages["Qualified"]})
    add_robot(stages["New"], "after")
    deal_id = new_deal()
    _deliver(runtime, commits)
    first, moved, after = runs(deal_id)
    assert (first.status, moved.status) == ("done", "done")
    assert (after.status, after.reason, after.attempts, after.started_at) == (
        "cancelled", "deal left the stage", 0, None)
    with runtime.sessions() as s:
        assert s.get(Deal, deal_id).stage_id == stages["Qualified"]


def test_a_failing_run_is_executed_once_and_the_others_still_commit(runtime, stages, add_robot, new_deal, runs,
                                                                    commits) -> None:
    FAILURES["mid"] = ["transient"]  # only the first execution fails: a second one would succeed
    add_robot(stages["New"], "a")
    add_robot(stages["New"], "mid", settings={"marker": "mid"})
    add_robot(stages["New"], "c")
    deal_id = new_deal()
    _deliver(runtime, commits)
    a, mid, c = runs(deal_id)
    assert (a.status, c.status) == ("done", "done")
    assert (mid.status, mid.attempts, mid.error) == ("scheduled", 1, "provider answered 503")
    with runtime.sessions() as s:
        comments = list(s.scalars(select(TimelineEntry.run_id).where(TimelineEntry.deal_id == deal_id,
                                                                     TimelineEntry.kind == "comment")))
    assert sorted(comments) == sorted([a.id, c.id])  # the failed attempt's comment was rolled back


def test_a_robot_that_calls_outside_gets_its_own_transaction(runtime, stages, add_robot, new_deal, runs,
                                                             commits) -> None:
    add_robot(stages["New"], "before")
    add_robot(stages["New"], "call", kind="test_outside")
    add_robot(stages["New"], "after")
    deal_id = new_deal()
    _deliver(runtime, commits)
    # The run before it is committed before the call; the call's own outcome commits right after it.
    assert commits == ["commit", "outside call", "commit", "commit"]
    assert [r.status for r in runs(deal_id)] == ["done", "done", "done"]


def test_a_run_named_twice_in_one_message_runs_once(runtime, stages, add_robot, new_deal, runs, commits) -> None:
    add_robot(stages["New"], "a")
    add_robot(stages["New"], "b")
    deal_id = new_deal()
    runtime.extras["broker"].flush_all()
    a, b = runs(deal_id)
    runtime.extras["robots.actor"].send([a.id, b.id, a.id])
    _deliver(runtime, commits)
    with runtime.sessions() as s:
        comments = list(s.scalars(select(TimelineEntry.run_id).where(TimelineEntry.kind == "comment")))
    assert sorted(comments) == sorted([a.id, b.id]) and [r.status for r in runs(deal_id)] == ["done", "done"]
