"""Bare baselines served like the app (uvicorn, same workers, same database and pool settings).

Each endpoint does only the essential database work of the real one, with nothing else (no auth, no ORM, no
events, no robots, no live publishing), so `bench.core_http` and `bench.webhooks_intake` can say how close the
product comes to what the database allows:
- `POST /bare/deals/{id}/move` {"stage_id"}: lock the deal, close its stage entry, insert the new entry, update the
  deal (stage, version, rank, entered at, current entry), insert a timeline row — one transaction.
- `POST /bare/hooks/stripe`: check the Stripe-Signature HMAC over the raw body, parse it, insert the event once
  (`on conflict do nothing`), 200.
- `GET /bare/healthz`: the trivial endpoint (no database).
Run by `bench.harness.served_bare`; DATABASE_URL and KANBAN_STRIPE_WEBHOOK_SECRET come from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kanban.db import make_engine

engine = make_engine(os.environ["DATABASE_URL"])
SECRET = os.environ.get("KANBAN_STRIPE_WEBHOOK_SECRET", "")

LOCK = text("select stage_id, version, current_entry_id from deals where id = :id for update")
LEAVE = text("update stage_entries set left_at = :at where id = :entry")
ENTER = text("insert into stage_entries (deal_id, stage_id, from_stage_id, entered_at, actor_type, actor_id, cause) "
             "values (:deal, :stage, :src, :at, 'user', 1, '[]') returning id")
UPDATE = text("update deals set stage_id = :stage, version = version + 1, stage_entered_at = :at, "
              "current_entry_id = :entry, rank = :rank, updated_at = :at where id = :deal and version = :version")
TIMELINE = text("insert into timeline_entries (deal_id, kind, at, actor_type, actor_id, text, data) "
                "values (:deal, 'stage_changed', :at, 'user', 1, 'Moved', '{}')")
STORE = text("insert into inbound_events (provider, event_id, kind, payload, status, attempts, received_at) "
             "values ('stripe', :event_id, :kind, :payload, 'pending', 0, :at) on conflict do nothing")


async def healthz(request: Request) -> Response:
    """The trivial endpoint."""
    return PlainTextResponse("ok")


def _move(deal_id: int, stage_id: int) -> dict[str, int]:
    at = datetime.now(UTC)
    with engine.begin() as conn:
        row = conn.execute(LOCK, {"id": deal_id}).one()
        if row.current_entry_id is not None:
            conn.execute(LEAVE, {"at": at, "entry": row.current_entry_id})
        entry = conn.execute(ENTER, {"deal": deal_id, "stage": stage_id, "src": row.stage_id, "at": at}).scalar()
        conn.execute(UPDATE, {"stage": stage_id, "at": at, "entry": entry, "rank": -at.timestamp(),
                              "deal": deal_id, "version": row.version})
        conn.execute(TIMELINE, {"deal": deal_id, "at": at})
    return {"id": deal_id, "stage_id": stage_id, "version": row.version + 1}


async def move(request: Request) -> Response:
    """The essential writes of a move, in a thread like the app's sync endpoints."""
    from starlette.concurrency import run_in_threadpool

    body = json.loads(await request.body())
    return JSONResponse(await run_in_threadpool(_move, int(request.path_params["deal_id"]), int(body["stage_id"])))


def _store(raw: bytes, header: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    expected = hmac.new(SECRET.encode(), parts.get("t", "").encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        return False
    event = json.loads(raw)
    with engine.begin() as conn:
        conn.execute(STORE, {"event_id": event["id"], "kind": "payment_received", "payload": json.dumps(event),
                             "at": datetime.now(UTC)})
    return True


async def stripe_hook(request: Request) -> Response:
    """Verify and store a Stripe event once."""
    from starlette.concurrency import run_in_threadpool

    raw = await request.body()
    ok = await run_in_threadpool(_store, raw, request.headers.get("stripe-signature", ""))
    return JSONResponse({"received": True}) if ok else JSONResponse({"error": "bad signature"}, status_code=400)


app = Starlette(routes=[
    Route("/bare/healthz", healthz),
    Route("/bare/deals/{deal_id:int}/move", move, methods=["POST"]),
    Route("/bare/hooks/stripe", stripe_hook, methods=["POST"]),
])
