"""Robots that call the outside world (webhook, a payment provider) make the call with no transaction open:
the run shows as running, nothing is locked meanwhile, failures and stalls are recorded on the right attempt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from kanban.events import Actor
from kanban.models import Deal, Invoice
from kanban.outbound import Http
from kanban.payments import StripePayments
from kanban.services.deals import update_deal
from robots.dispatcher import STALLED, STALLED_AFTER_SECONDS, recover_stalled
from robots.engine import BACKOFF_SECONDS
from robots.models import RobotRun
from tests.fake_http import Seen, serve


def _run_row(runtime: Any) -> RobotRun:
    with runtime.sessions() as s:
        return s.scalars(select(RobotRun)).one()


def test_the_call_is_made_with_the_run_committed_as_running_and_nothing_locked(runtime, stages, add_robot,
                                                                               new_deal, runs, run_all) -> None:
    seen: dict[str, Any] = {}

    def respond(_request: Seen) -> tuple[int, Any]:
        seen["run"] = (_run_row(runtime).status, _run_row(runtime).attempts)
        # A rep editing the deal during the call: it would wait for the run's transaction if one were open.
        with runtime.sessions() as s, s.begin():
            update_deal(s, seen["deal_id"], {"title": "Edited during the call"}, actor=Actor("system"))
        return 200, {}

    with serve(respond) as fake:
        add_robot(stages["New"], "hook", kind="webhook", settings={"url": fake.url, "allow_private": True})
        seen["deal_id"] = new_deal()
        run_all()
    assert seen["run"] == ("running", 1)
    [run] = runs(seen["deal_id"])
    assert (run.status, run.attempts, run.outputs) == ("done", 1, {"status": 200})
    with runtime.sessions() as s:
        assert s.get(Deal, seen["deal_id"]).title == "Edited during the call"


def test_a_failed_call_is_one_attempt_and_the_retry_carries_the_same_idempotency_key(
        runtime, clock, stages, add_robot, new_deal, runs, run_all) -> None:
    replies = [(503, {"error": "busy"})]
    with serve(lambda seen: replies.pop(0) if replies else (200, {})) as fake:
        add_robot(stages["New"], "hook", kind="webhook", settings={"url": fake.url, "allow_private": True})
        deal_id = new_deal()
        run_all()
        [run] = runs(deal_id)
        assert (run.status, run.attempts) == ("scheduled", 1) and "503" in run.error
        clock.advance(BACKOFF_SECONDS[0])
        run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("done", 2)
    assert [r.headers["webhook-id"] for r in fake.requests] == [f"run_{run.id}"] * 2


def test_a_call_whose_worker_died_is_made_again_after_the_stall_limit(runtime, clock, stages, add_robot, new_deal,
                                                                      runs, run_all) -> None:
    with serve() as fake:
        add_robot(stages["New"], "hook", kind="webhook", settings={"url": fake.url, "allow_private": True})
        deal_id = new_deal()
        runtime.extras["broker"].flush_all()  # the message died with the worker...
        with runtime.sessions() as s, s.begin():  # ...which had committed the run as running, then the call began
            s.execute(update(RobotRun).values(status="running", attempts=1, started_at=clock()))
        assert recover_stalled(runtime) == 0  # not stalled yet: the call may still be under way
        clock.advance(STALLED_AFTER_SECONDS + 1)
        assert recover_stalled(runtime) == 1
        [run] = runs(deal_id)
        assert (run.status, run.attempts, run.error) == ("scheduled", 1, STALLED)
        assert run.due_at == clock() + timedelta(seconds=BACKOFF_SECONDS[0])
        clock.advance(BACKOFF_SECONDS[0])
        run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("done", 2)
    assert [r.headers["idempotency-key"] for r in fake.requests] == [f"run_{run.id}"]


def test_a_run_taken_over_during_its_call_is_left_to_the_new_execution(runtime, stages, add_robot, new_deal, runs,
                                                                       run_all) -> None:
    def respond(_request: Seen) -> tuple[int, Any]:
        with runtime.sessions() as s, s.begin():  # the dispatcher gave up on this call; another worker took it
            s.execute(update(RobotRun).values(attempts=2))
        return 200, {}

    with serve(respond) as fake:
        add_robot(stages["New"], "hook", kind="webhook", settings={"url": fake.url, "allow_private": True})
        deal_id = new_deal()
        _pump(runtime)
    [run] = runs(deal_id)
    assert (run.status, run.attempts, run.outputs, run.finished_at) == ("running", 2, {}, None)


def _pump(runtime: Any) -> None:
    from robots.actors import _pump_stub

    assert _pump_stub(runtime.extras["broker"]) == 1


@pytest.fixture
def stripe(runtime: Any) -> Iterator[tuple[Any, list[tuple[int, Any]]]]:
    """The Stripe-compatible provider, pointed at a local fake, as the runtime's payment service."""
    replies: list[tuple[int, Any]] = []

    def respond(_seen: Seen) -> tuple[int, Any]:
        return replies.pop(0) if replies else (200, {"id": "cs_1", "url": "https://pay.example/cs_1"})

    services = runtime.extras["services"]
    with serve(respond) as fake:
        http = Http()
        original = services["payments"]
        services["payments"] = StripePayments(fake.url, "sk", "http://testserver", http, pause=0.01)
        yield fake, replies
        services["payments"] = original
        http.close()


def test_a_payment_link_retried_after_a_provider_outage_reuses_its_invoice(runtime, clock, stages, add_robot,
                                                                           new_deal, runs, run_all, stripe) -> None:
    fake, replies = stripe
    replies.extend([(500, None)] * 3)  # the provider's own three tries of the first attempt
    add_robot(stages["New"], "pay", kind="create_payment_link", settings={})
    deal_id = new_deal(amount=5000)
    run_all()
    [run] = runs(deal_id)
    assert (run.status, run.attempts) == ("scheduled", 1)
    with runtime.sessions() as s:
        [pending] = s.scalars(select(Invoice)).all()
    assert (pending.status, pending.url) == ("pending", None)  # committed before the call, not payable yet
    clock.advance(BACKOFF_SECONDS[0])
    run_all()
    [run] = runs(deal_id)
    with runtime.sessions() as s:
        [invoice] = s.scalars(select(Invoice)).all()
    assert (run.status, run.outputs["invoice_id"], run.outputs["url"]) == ("done", pending.id,
                                                                            "https://pay.example/cs_1")
    assert (invoice.id, invoice.status, invoice.url) == (pending.id, "open", "https://pay.example/cs_1")
    keys = {r.headers["idempotency-key"] for r in fake.requests}
    assert len(fake.requests) == 4 and keys == {f"run-{run.id}-invoice-{invoice.id}"}
