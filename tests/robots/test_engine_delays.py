"""Delays held in the database: due times, the dispatcher, lost messages, and the embedded worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from kanban.actors import start_embedded, stop_embedded
from robots import dispatcher
from robots.actors import drain
from robots.scheduling import due_at

NOW = datetime(2026, 5, 4, 10, 30, 15, tzinfo=UTC)


def _deal(**fields: Any) -> Any:
    return SimpleNamespace(fields=fields)


@pytest.mark.parametrize(("delay", "fields", "expected"), [
    (None, {}, NOW),
    ({"type": "now"}, {}, NOW),
    ({"type": "after", "seconds": 90}, {}, NOW + timedelta(seconds=90)),
    ({"type": "after", "seconds": 3 * 86400}, {}, NOW + timedelta(days=3)),
    ({"type": "before_field", "field": "meeting", "seconds": 3600}, {"meeting": "2026-05-05T09:00:00Z"},
     datetime(2026, 5, 5, 8, 0, tzinfo=UTC)),
    ({"type": "after_field", "field": "deal.fields.due", "seconds": 86400}, {"due": "2026-05-10"},
     datetime(2026, 5, 11, tzinfo=UTC)),
    ({"type": "after_field", "field": "due", "seconds": 0}, {"due": "2026-05-10T12:00:00+02:00"},
     datetime(2026, 5, 10, 10, 0, tzinfo=UTC)),
    ({"type": "before_field", "field": "meeting", "seconds": 3600}, {"meeting": "2026-05-04T11:00:00Z"}, NOW),
    ({"type": "after_field", "field": "due", "seconds": 60}, {}, NOW),
    ({"type": "after_field", "field": "due", "seconds": 60}, {"due": "soon"}, NOW),
    ({"type": "at_time", "time": "18:00"}, {}, datetime(2026, 5, 4, 18, 0, tzinfo=UTC)),
    ({"type": "at_time", "time": "09:15"}, {}, datetime(2026, 5, 5, 9, 15, tzinfo=UTC)),
])
def test_due_times(delay: Any, fields: dict[str, Any], expected: datetime) -> None:
    assert due_at(delay, _deal(**fields), NOW) == expected


def test_dispatcher_sends_runs_when_they_fall_due(runtime, clock, stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "later", delay={"type": "after", "seconds": 120})
    deal_id = new_deal()
    sent: list[list[int]] = []
    assert dispatcher.tick(runtime, sent.extend) == 0
    clock.advance(119)
    assert dispatcher.tick(runtime, sent.extend) == 0
    clock.advance(1)
    assert dispatcher.tick(runtime, sent.extend) == 1
    assert sent == [[runs(deal_id)[0].id]]
    assert dispatcher.tick(runtime, sent.extend) == 0  # already enqueued: not sent twice
    clock.advance(dispatcher.REQUEUE_AFTER_SECONDS + 1)
    assert dispatcher.tick(runtime, sent.extend) == 1  # message lost? sent again
    assert sent == [[runs(deal_id)[0].id]] * 2


def test_runs_whose_message_was_lost_are_recovered(runtime, clock, stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "now")
    deal_id = new_deal()
    broker = runtime.extras["broker"]
    for name in broker.get_declared_queues():
        broker.flush(name)  # as if Redis restarted empty right after the commit
    assert runs(deal_id)[0].status == "scheduled"
    clock.advance(dispatcher.REQUEUE_AFTER_SECONDS + 1)
    assert dispatcher.tick(runtime, runtime.extras["robots.send"]) == 1
    drain(runtime)
    assert runs(deal_id)[0].status == "done"


def test_embedded_worker_and_dispatcher_run_delayed_robots(runtime, stages, add_robot, new_deal, runs) -> None:
    add_robot(stages["New"], "now")
    add_robot(stages["New"], "soon", delay={"type": "after", "seconds": 1})
    add_robot(stages["New"], "chained", after_previous=True, settings={"text": "{{ robots.soon.text }}!"})
    start_embedded(runtime)
    try:
        deal_id = new_deal()
        drain(runtime)
        now, soon, chained = runs(deal_id)
        assert now.status == "done" and soon.status == "scheduled"
        deadline = time.monotonic() + 10
        while runs(deal_id)[2].status != "done" and time.monotonic() < deadline:
            time.sleep(0.05)  # the embedded dispatcher and worker do the work, not this test
        now, soon, chained = runs(deal_id)
        assert (soon.status, chained.status, chained.outputs["text"]) == ("done", "done", "echo!")
        lateness = (soon.started_at - soon.due_at).total_seconds()
        assert lateness < 1.0
    finally:
        stop_embedded(runtime)
    assert runtime.extras.get("worker") is None


@pytest.mark.parametrize("delay", [{"type": "after", "seconds": "soon"}, {"type": "after", "seconds": None},
                                   {"type": "after", "seconds": -5}, {"type": "at_time", "time": "25:99"},
                                   {"type": "after", "seconds": 10**30}, {"type": "bogus"}])
def test_malformed_delays_never_break_a_move(delay: Any) -> None:
    due = due_at(delay, _deal(), NOW)
    assert NOW <= due <= NOW + timedelta(days=3700)


def test_packed_keeps_groups_whole_and_in_order() -> None:
    from robots.scheduling import packed

    runs = [(1, "a"), (2, "b"), (3, "a"), (4, "c"), (5, "c"), (6, "c")]
    assert packed(runs, limit=4) == [[1, 3, 2], [4, 5, 6]]
    assert packed([(n, n) for n in range(45)]) == [list(range(20)), list(range(20, 40)), list(range(40, 45))]


def test_a_burst_of_due_runs_shares_messages_and_transactions(runtime, clock, stages, add_robot, new_deal,
                                                               runs) -> None:
    """Delayed runs of many deals falling due together go out packed, several deals per message, and each
    message executes in one transaction (one commit), every run exactly once."""
    from sqlalchemy import event

    add_robot(stages["New"], "later", delay={"type": "after", "seconds": 60})
    deals = [new_deal() for _ in range(45)]
    clock.advance(60)
    sent: list[list[int]] = []
    assert dispatcher.tick(runtime, sent.extend) == 45
    assert [len(message) for message in sent] == [20, 20, 5]
    assert sorted(run_id for message in sent for run_id in message) == sorted(runs(d)[0].id for d in deals)
    commits = 0

    def count(*_args: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(runtime.engine, "commit", count)
    try:
        actor = runtime.extras["robots.actor"]
        for message in sent:
            actor.fn(message)
    finally:
        event.remove(runtime.engine, "commit", count)
    assert commits == 3
    assert {runs(d)[0].status for d in deals} == {"done"} and {runs(d)[0].attempts for d in deals} == {1}
