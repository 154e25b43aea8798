"""The move path's SQL statement counts are pinned (issue 11): a refactor that adds a round trip fails here.

Counted with SQLAlchemy's before_cursor_execute on the app's engine, BEGIN left out (SQLite's BEGIN IMMEDIATE
goes through a cursor, PostgreSQL's does not), on both backends. When a change really needs another statement,
raise the number here and say why in the commit.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from kanban.events import SYSTEM
from kanban.live import LiveHub
from kanban.models import Deal, StageEntry, TimelineEntry
from kanban.services.deals import create_deal
from tests.conftest import csrf_of, login, token_for
from triggers.verify import stripe_signature

SECRET = "whsec_statements"

# Statements per request (BEGIN not counted; COMMIT is not a cursor statement on either backend).
API_MOVE = 13  # auth (token+user), lock deal, both stages, close entry, new entry, deal UPDATE (version check and
#                top rank in it), timeline, cancel runs, robots of the stage, domain event, automations, next
#                activity (reply), stage totals upsert
HTMX_MOVE = 18  # the move's 12 (session+user instead of token+user) + stages of the board, totals of both columns,
#                 cards of each column, next activities of both, people for the "+ deal" form
INTAKE = 1  # insert once


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No embedded worker: its statements would land in the counts.
    return {"KANBAN_EMBEDDED_WORKER": "0", "KANBAN_STRIPE_WEBHOOK_SECRET": SECRET}


@contextmanager
def counting(runtime: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)


def _deals(runtime: Any, pipeline: Any, n: int) -> list[int]:
    with runtime.sessions() as s, s.begin():
        return [create_deal(s, title=f"Deal {i}", pipeline_id=pipeline.id, stage_id=pipeline.stages[0].id,
                            amount=100 * i, actor=SYSTEM).id for i in range(n)]


def _state(runtime: Any, deal_id: int) -> tuple[Deal, list[StageEntry], list[str]]:
    with runtime.sessions() as s:
        deal = s.get(Deal, deal_id)
        entries = list(s.scalars(select(StageEntry).where(StageEntry.deal_id == deal_id).order_by(StageEntry.id)))
        kinds = list(s.scalars(select(TimelineEntry.kind).where(TimelineEntry.deal_id == deal_id)))
        return deal, entries, kinds


def test_api_move_statements(client, runtime, admin, pipeline):
    first, second, third = _deals(runtime, pipeline, 3)
    headers = {"Authorization": f"Bearer {token_for(runtime, admin.email)}"}
    target = pipeline.stages[1].id
    assert client.post(f"/api/v1/deals/{first}/move", json={"stage_id": target}, headers=headers).status_code == 200
    with counting(runtime) as seen:
        response = client.post(f"/api/v1/deals/{second}/move", json={"stage_id": target, "version": 1},
                               headers=headers)
    assert response.status_code == 200, response.text
    assert len(seen) == API_MOVE, "\n".join(seen)
    body = response.json()
    assert body["stage_id"] == target and body["version"] == 2
    deal, entries, kinds = _state(runtime, second)
    assert deal.stage_id == target and deal.current_entry_id == entries[-1].id
    assert entries[0].left_at is not None and entries[-1].left_at is None
    assert kinds == ["created", "stage_changed"]
    # On top of the column: above the deal moved there first.
    assert deal.rank < _state(runtime, first)[0].rank
    # The version check still holds on the fast path: a stale version is a 409 that changes nothing.
    stale = client.post(f"/api/v1/deals/{third}/move", json={"stage_id": target, "version": 7}, headers=headers)
    assert stale.status_code == 409
    assert _state(runtime, third)[0].stage_id == pipeline.stages[0].id


def test_htmx_move_statements(client, runtime, admin, pipeline):
    first, second = _deals(runtime, pipeline, 2)
    login(client, admin.email)
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf_of(client)}
    data = {"stage_id": pipeline.stages[2].id, "from_stage_id": pipeline.stages[0].id}
    assert client.post(f"/deals/{first}/move", headers=headers, data=data).status_code == 200
    with counting(runtime) as seen:
        response = client.post(f"/deals/{second}/move", headers=headers, data=data)
    assert response.status_code == 200, response.text
    assert len(seen) == HTMX_MOVE, "\n".join(seen)
    cols = {c.stage.id: c for c in response.context["columns"]}
    assert set(cols) == {pipeline.stages[0].id, pipeline.stages[2].id}
    assert cols[pipeline.stages[2].id].count == 2 and cols[pipeline.stages[0].id].count == 0
    assert [c.id for c in cols[pipeline.stages[2].id].cards] == [second, first]


def test_stripe_intake_statements(client, runtime):
    body = json.dumps({"id": "evt_count", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_1", "object": "checkout.session", "metadata": {"invoice_id": "99999"}, "amount_total": 100,
        "currency": "usd", "payment_status": "paid"}}}).encode()
    headers = {"Stripe-Signature": stripe_signature(SECRET, body, int(time.time())),
               "Content-Type": "application/json"}
    with counting(runtime) as seen:
        response = client.post("/hooks/payments/stripe", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    assert len(seen) == INTAKE, "\n".join(seen)


def test_live_fan_out_is_one_hop_per_event_loop():
    """A publisher (a request's after-commit) posts once per event loop, not once per open stream."""

    async def scenario() -> None:
        hub = LiveHub()
        subs = [hub.subscribe(pipeline_id=1) for _ in range(300)]
        other = hub.subscribe(pipeline_id=2)
        loop = asyncio.get_running_loop()
        hops = []
        real = loop.call_soon_threadsafe

        def counted(*args: Any) -> Any:
            hops.append(args)
            return real(*args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        try:
            publisher = threading.Thread(target=hub.deliver, args=({"type": "board", "pipeline_id": 1},))
            publisher.start()
            publisher.join()
            assert len(hops) == 1
            got = [await asyncio.wait_for(s.get(), 2) for s in subs if s is not None]
        finally:
            del loop.call_soon_threadsafe
        assert len(got) == 300 and all(n["pipeline_id"] == 1 for n in got)
        assert other is not None and other.queue.empty()
        for s in [*subs, other]:
            hub.unsubscribe(s)  # type: ignore[arg-type]
        hub.deliver({"type": "board", "pipeline_id": 1})
        assert not hub._loops

    asyncio.run(scenario())
