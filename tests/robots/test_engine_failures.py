"""Engine failure rules: transient backoff, permanent failure, crashes, admin retry, duplicates, loop guard."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from kanban.errors import ConflictError
from kanban.models import Deal, TimelineEntry
from robots.engine import BACKOFF_SECONDS, MAX_ATTEMPTS, execute_run, retry_run
from tests.robots.conftest import FAILURES


def _timeline(runtime: Any, deal_id: int, kind: str) -> list[TimelineEntry]:
    with runtime.sessions() as s:
        return list(s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id,
                                                          TimelineEntry.kind == kind).order_by(TimelineEntry.id)))


def test_transient_errors_retry_with_backoff_then_succeed(runtime, clock, stages, add_robot, new_deal, runs,
                                                          run_all) -> None:
    FAILURES["flaky"] = ["transient", "transient"]
    add_robot(stages["New"], "flaky", settings={"marker": "flaky"})
    deal_id = new_deal()
    run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts, run.error) == ("scheduled", 1, "provider answered 503")
    assert (run.due_at - clock.at).total_seconds() == BACKOFF_SECONDS[0]
    assert _timeline(runtime, deal_id, "comment") == []  # the failed attempt's side effect was rolled back
    clock.advance(BACKOFF_SECONDS[0] - 1)
    run_all()
    assert runs(deal_id)[0].attempts == 1
    clock.advance(1)
    run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("scheduled", 2)
    assert (run.due_at - clock.at).total_seconds() == BACKOFF_SECONDS[1]
    clock.advance(BACKOFF_SECONDS[1])
    run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("done", 3)
    assert len(_timeline(runtime, deal_id, "comment")) == 1


def test_transient_errors_fail_after_the_last_attempt(runtime, clock, stages, add_robot, new_deal, runs,
                                                      run_all) -> None:
    FAILURES["down"] = ["transient"] * MAX_ATTEMPTS
    add_robot(stages["New"], "down", settings={"marker": "down"})
    add_robot(stages["New"], "after", after_previous=True)
    deal_id = new_deal()
    for seconds in (0, *BACKOFF_SECONDS[: MAX_ATTEMPTS - 1]):
        clock.advance(seconds)
        run_all()
    down, after = runs(deal_id)
    assert (down.status, down.attempts) == ("failed", MAX_ATTEMPTS)
    assert down.error == f"provider answered 503 (gave up after {MAX_ATTEMPTS} attempts)"
    assert after.status == "cancelled" and after.reason == "the robot above did not finish (down: failed)"
    [entry] = _timeline(runtime, deal_id, "robot")
    assert "failed: provider answered 503" in entry.text and entry.data["run_id"] == down.id


def test_permanent_error_fails_at_once_and_admin_retry_runs_it_again(runtime, stages, add_robot, new_deal, runs,
                                                                     run_all) -> None:
    FAILURES["bad"] = ["permanent"]
    add_robot(stages["New"], "bad", settings={"marker": "bad", "text": "sent"})
    add_robot(stages["New"], "next", after_previous=True, settings={"text": "after {{ robots.bad.text }}"})
    deal_id = new_deal()
    run_all()
    bad, nxt = runs(deal_id)
    assert (bad.status, bad.attempts, bad.error) == ("failed", 1, "no email address")
    assert nxt.status == "cancelled"
    with runtime.sessions() as s, s.begin():
        retry_run(s, bad.id)
    bad, nxt = runs(deal_id)
    assert (bad.status, bad.attempts, nxt.status) == ("scheduled", 0, "waiting")
    run_all()
    bad, nxt = runs(deal_id)
    assert (bad.status, nxt.status) == ("done", "done")
    assert nxt.outputs["text"] == "after sent"
    with runtime.sessions() as s, s.begin(), pytest.raises(ConflictError, match="only failed runs"):
        retry_run(s, bad.id)


def test_retry_is_refused_after_the_deal_left_the_stage(runtime, stages, add_robot, new_deal, move, runs,
                                                        run_all) -> None:
    FAILURES["bad"] = ["permanent"]
    add_robot(stages["New"], "bad", settings={"marker": "bad"})
    deal_id = new_deal()
    run_all()
    move(deal_id, stages["Qualified"])
    with runtime.sessions() as s, s.begin(), pytest.raises(ConflictError, match="left the stage"):
        retry_run(s, runs(deal_id)[0].id)


def test_invalid_settings_and_unknown_kind_are_permanent_failures(stages, add_robot, new_deal, runs,
                                                                  run_all) -> None:
    add_robot(stages["New"], "typo", settings={"txt": "x"})
    add_robot(stages["New"], "gone", kind="no_such_kind")
    add_robot(stages["New"], "tpl", settings={"text": "{{ deal.title.__class__ }}"})
    deal_id = new_deal()
    run_all()
    typo, gone, tpl = runs(deal_id)
    assert typo.status == "failed" and typo.error.startswith("invalid settings: txt:")
    assert gone.status == "failed" and gone.error == "unknown robot kind 'no_such_kind'"
    assert tpl.status == "failed" and "not allowed" in tpl.error


def test_memory_exhaustion_is_a_permanent_explained_failure(stages, add_robot, new_deal, runs, run_all) -> None:
    FAILURES["hog"] = ["memory"]
    add_robot(stages["New"], "hog", settings={"marker": "hog"})
    add_robot(stages["New"], "bomb", settings={"text": "{{ '" + "x" * 300 + "'|join('" + "y" * 1500 + "'|join('"
                                               + "z" * 1500 + "'))|length }}"})
    deal_id = new_deal()
    run_all()
    hog, bomb = runs(deal_id)
    assert (hog.status, hog.attempts) == ("failed", 1)  # not retried 5 times
    assert "exhausted the worker's resources (MemoryError)" in hog.error
    assert (bomb.status, bomb.attempts) == ("failed", 1) and "join would build more than" in bomb.error


def test_unexpected_exception_counts_as_a_failed_attempt(runtime, clock, stages, add_robot, new_deal, runs,
                                                         run_all) -> None:
    FAILURES["bug"] = ["crash"]
    add_robot(stages["New"], "bug", settings={"marker": "bug"})
    deal_id = new_deal()
    run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts, run.error) == ("scheduled", 1, "RuntimeError: kind bug")
    assert _timeline(runtime, deal_id, "comment") == []
    clock.advance(BACKOFF_SECONDS[0])
    run_all()
    assert runs(deal_id)[0].status == "done"


def test_runs_of_one_stage_entry_travel_in_one_message_and_a_crash_does_not_stop_the_rest(
        runtime, clock, stages, add_robot, new_deal, runs, run_all) -> None:
    FAILURES["first"] = ["crash"]
    add_robot(stages["New"], "first", settings={"marker": "first"})
    add_robot(stages["New"], "second")
    add_robot(stages["New"], "third")
    broker = runtime.extras["broker"]
    before = sum(broker.queues[name].qsize() for name in broker.get_declared_queues())
    deal_id = new_deal()
    after = sum(broker.queues[name].qsize() for name in broker.get_declared_queues())
    assert after - before == 1  # one message carries the entry's three runs
    from robots.actors import _pump_stub

    assert _pump_stub(broker) == 1  # that message alone, no dispatcher re-sends
    first, second, third = runs(deal_id)
    assert (first.status, first.attempts, first.error) == ("scheduled", 1, "RuntimeError: kind bug")
    assert (second.status, third.status) == ("done", "done")
    clock.advance(BACKOFF_SECONDS[0])
    run_all()
    assert runs(deal_id)[0].status == "done"


def test_duplicate_deliveries_execute_once(runtime, stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "once")
    deal_id = new_deal()
    [run] = runs(deal_id)
    barrier = threading.Barrier(5)
    results: list[Any] = []

    def deliver() -> None:
        barrier.wait()
        results.append(execute_run(runtime, run.id))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count("done") == 1 and results.count(None) == 4
    assert len(_timeline(runtime, deal_id, "comment")) == 1
    for _ in range(5):
        runtime.extras["robots.actor"].send(run.id)
    from robots.actors import drain

    drain(runtime)
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("done", 1)
    assert len(_timeline(runtime, deal_id, "comment")) == 1


def test_early_delivery_of_a_delayed_run_does_nothing(runtime, clock, stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "later", delay={"type": "after", "seconds": 10})
    [run] = runs(new_deal())
    assert execute_run(runtime, run.id) is None
    clock.advance(10)
    assert execute_run(runtime, run.id) == "done"


def test_loop_guard_blocks_robots_moving_a_deal_back_and_forth(runtime, stages, add_robot, new_deal, move, runs,
                                                              run_all) -> None:
    add_robot(stages["Qualified"], "to_proposal", kind="test_move", settings={"stage_id": stages["Proposal"]})
    add_robot(stages["Proposal"], "to_qualified", kind="test_move", settings={"stage_id": stages["Qualified"]})
    add_robot(stages["Proposal"], "after_move", after_previous=True)
    deal_id = new_deal()
    move(deal_id, stages["Qualified"])
    run_all(30)
    all_runs = runs(deal_id)
    blocked = [r for r in all_runs if r.status == "blocked"]
    assert len(blocked) == 1
    assert "automatic" in blocked[0].reason
    assert {r.status for r in all_runs if r.kind == "test_move" and r.id != blocked[0].id} == {"done"}
    with runtime.sessions() as s:
        deal = s.get(Deal, deal_id)
        assert deal.current_entry_id == blocked[0].stage_entry_id  # the deal stayed put
        moves = s.scalar(select(func.count()).select_from(TimelineEntry)
                         .where(TimelineEntry.deal_id == deal_id, TimelineEntry.kind == "stage_changed"))
    assert moves <= 10
    [loop_entry] = _timeline(runtime, deal_id, "loop_blocked")
    assert "refused" in loop_entry.text
    [robot_entry] = _timeline(runtime, deal_id, "robot")
    assert "was blocked" in robot_entry.text
    # the robot moving the deal stops the rest of its stage: "after_move" never ran in any entry
    assert {r.status for r in all_runs if r.robot_key == "after_move"} <= {"cancelled"}
