"""The event store: insert once, lost messages re-enqueued by the loop, failures retried then given up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.triggers.conftest import add_trigger, events, make_deal, settled, stage_of, wait_for
from triggers import inbound, processing
from triggers.inbound import MAX_ATTEMPTS, store_event


def _store(runtime, enqueue, event_id="e1", deal_id=None, **payload):
    with runtime.sessions() as s, s.begin():
        return store_event(s, enqueue, provider="test", event_id=event_id, kind="email_opened",
                           payload={"deal_id": deal_id, **payload}, deal_id=deal_id)


def test_store_is_idempotent_under_concurrency(runtime):
    sent: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: _store(runtime, sent.append), range(8)))
    assert len([i for i in ids if i is not None]) == 1
    assert sent == [i for i in ids if i is not None]  # enqueued once, after commit
    assert len(events(runtime, provider="test")) == 1


def test_nothing_is_enqueued_when_the_transaction_rolls_back(runtime):
    sent: list[int] = []
    with pytest.raises(RuntimeError), runtime.sessions() as s, s.begin():
        store_event(s, sent.append, provider="test", event_id="rb", kind="email_opened", payload={})
        raise RuntimeError("boom")
    assert sent == [] and events(runtime) == []


def test_lost_message_is_picked_up_by_the_requeue_loop(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Qualified"], "email_opened")
    _store(runtime, None, deal_id=deal)  # stored, but its message never reached the broker
    [event] = settled(runtime, provider="test")
    assert event.status == "processed" and stage_of(runtime, deal) == stages["Qualified"]


def test_failures_are_retried_then_processed(client, runtime, pipeline, stages, monkeypatch):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Qualified"], "email_opened")
    real = processing.fire
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(processing, "fire", flaky)
    _store(runtime, runtime.extras["triggers.enqueue"], deal_id=deal)
    [event] = settled(runtime, provider="test")
    assert event.status == "processed" and event.attempts == 2
    assert stage_of(runtime, deal) == stages["Qualified"]


def test_permanent_failure_gives_up_with_the_error(runtime, pipeline, stages, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("always broken")

    monkeypatch.setattr(processing, "fire", broken)
    deal = make_deal(runtime, pipeline, stages["New"])
    event_id = _store(runtime, None, deal_id=deal)
    for _ in range(MAX_ATTEMPTS):
        try:
            with runtime.sessions() as s, s.begin():
                processing.process_event(s, event_id)
        except RuntimeError as exc:
            with runtime.sessions() as s, s.begin():
                inbound.record_failure(s, event_id, str(exc))
    [event] = wait_for(lambda: events(runtime, provider="test"))
    assert event.status == "failed" and "always broken" in event.outcome and event.attempts == MAX_ATTEMPTS
