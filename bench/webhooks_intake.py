"""Signed payment webhooks accepted per second vs /healthz (same server, same run), and webhook → robot latency.

Run: python -m bench.webhooks_intake   (needs PostgreSQL on 127.0.0.1 and `wrk`)

1. Intake: `kanban serve` (2 web processes, PostgreSQL). wrk replays pre-signed, distinct Stripe
   `checkout.session.completed` events (verify signature over the raw body + insert-once into the event
   store + 200). The embedded worker is off for this phase so only intake is measured; the rate limiter is
   on with a limit high enough never to refuse. Printed as a ratio to GET /healthz of the same server.
2. End to end: the same app with its embedded worker; N deals sit in "Invoice" with an open invoice, a
   payment_received trigger targets "Paid" whose first robot adds a comment. Webhooks are sent one by one
   (paced); latency = that robot's finished_at − the moment the webhook was sent. p50/p99 printed.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.harness import fresh_database, machine_report, seed_users, served, served_bare, wrk
from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.events import Actor
from kanban.models import Invoice
from kanban.services.deals import create_deal
from kanban.services.pipelines import create_pipeline
from triggers.verify import stripe_signature

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
E2E_DEALS = int(os.environ.get("BENCH_E2E_DEALS", "200"))
SECRET = "whsec_bench"
ENV = {"KANBAN_STRIPE_WEBHOOK_SECRET": SECRET, "KANBAN_HOOK_RATE": "1000000", "KANBAN_HOOK_BURST": "1000000"}


def event_body(event_id: str, invoice_id: int, amount: int) -> bytes:
    """A compact checkout.session.completed event naming an invoice."""
    obj = {"id": f"cs_{event_id}", "object": "checkout.session", "metadata": {"invoice_id": str(invoice_id)},
           "amount_total": amount, "currency": "usd", "payment_status": "paid"}
    return json.dumps({"id": event_id, "type": "checkout.session.completed", "data": {"object": obj}},
                      separators=(",", ":")).encode()


def write_requests(path: Path, count: int) -> None:
    """Pre-signed distinct events (unknown invoices: processing is not part of this phase)."""
    now = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            body = event_body(f"evt_bench_{n}", 10_000_000 + n, 100)
            out.write(body.decode() + "\t" + stripe_signature(SECRET, body, now) + "\n")


def intake(url: str) -> tuple[dict[str, float], dict[str, float], dict[str, float], int]:
    """(trivial figures, bare intake figures, webhook figures, events stored by the app)."""
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "requests.tsv"
        write_requests(file, 4000 * SECONDS + 10_000)
        env = {**ENV, "KANBAN_EMBEDDED_WORKER": "0"}
        script = str(Path(__file__).with_name("webhooks.lua"))
        with served_bare(url, workers=2, extra_env=env) as base:
            wrk(base + "/bare/healthz", seconds=2)  # warm-up
            bare = wrk(base + "/", seconds=SECONDS, script=script,
                       env={"BENCH_FILE": str(file), "BENCH_THREADS": "2", "BENCH_HOOK_PATH": "/bare/hooks/stripe"})
        _clear_events(url)  # the app must store the same events anew
        with served(url, workers=2, extra_env=env) as base:
            wrk(base + "/healthz", seconds=2)  # warm-up
            trivial = wrk(base + "/healthz", seconds=SECONDS)
            hooks = wrk(base + "/", seconds=SECONDS, script=script,
                        env={"BENCH_FILE": str(file), "BENCH_THREADS": "2"})
    engine = create_engine(url)
    with engine.begin() as conn:
        stored = conn.execute(text("select count(*) from inbound_events where provider='stripe'")).scalar() or 0
    engine.dispose()
    # Their invoices do not exist; left pending they would be re-sent into phase 2 as a backlog.
    _clear_events(url)
    return trivial, bare, hooks, stored


def _clear_events(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("delete from inbound_events"))
    engine.dispose()


def seed_e2e(url: str, user_id: int) -> tuple[list[tuple[int, int]], int]:
    """Deals in "Invoice" with open invoices, a payment trigger and a comment robot on "Paid"."""
    from robots import config as robot_config
    from triggers import config as trigger_config

    rt = bootstrap(load_settings(DATABASE_URL=url, KANBAN_SECRET_KEY="bench"))
    with rt.sessions() as s, s.begin():
        p = create_pipeline(s, "E2E", [{"name": "Invoice"}, {"name": "Paid", "kind": "won"}])
        invoice_stage, paid = (st.id for st in p.stages)
        robot_config.create_robot(s, paid, {"kind": "add_comment", "key": "thanks",
                                            "settings": {"text": "Paid, thanks"}})
        trigger_config.create_trigger(s, paid, {"kind": "payment_received"})
        pairs = []
        for n in range(E2E_DEALS):
            deal = create_deal(s, title=f"E2E {n}", pipeline_id=p.id, stage_id=invoice_stage, amount=100,
                               actor=Actor.user(user_id))
            invoice = Invoice(deal_id=deal.id, amount=100, currency="USD", description="bench", provider="stripe")
            s.add(invoice)
            s.flush()
            pairs.append((deal.id, invoice.id))
    rt.engine.dispose()
    return pairs, paid


def end_to_end(url: str, user_id: int) -> list[float]:
    """Latencies (ms) from sending a webhook to the target stage's first robot being done."""
    pairs, paid = seed_e2e(url, user_id)
    sent: dict[int, float] = {}
    with served(url, workers=2, extra_env=ENV) as base, httpx.Client(base_url=base) as client:
        for deal_id, invoice_id in pairs:
            body = event_body(f"evt_e2e_{invoice_id}", invoice_id, 100)
            headers = {"Stripe-Signature": stripe_signature(SECRET, body, int(time.time())),
                       "Content-Type": "application/json"}
            sent[deal_id] = time.time()
            client.post("/hooks/payments/stripe", content=body, headers=headers).raise_for_status()
            time.sleep(0.02)
        done = _wait_for_runs(url, paid, len(pairs))
    engine = create_engine(url)
    with engine.connect() as conn:
        retried = conn.execute(text("select count(*) from inbound_events where provider='stripe' and attempts>1 "
                                    "and event_id like 'evt_e2e_%'")).scalar()
        outcomes = conn.execute(text("select status, count(*) from inbound_events where event_id like 'evt_e2e_%' "
                                     "group by status")).all()
    engine.dispose()
    print(f"e2e events by status: {dict(outcomes)}; processed more than once: {retried}")
    return sorted((done[d] - sent[d]) * 1000 for d in sent if d in done)


def _wait_for_runs(url: str, stage_id: int, expected: int, timeout: float = 60) -> dict[int, float]:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    rows: dict[int, float] = {}
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = conn.execute(text("select deal_id, min(finished_at) from robot_runs where stage_id=:s and "
                                      "status='done' group by deal_id"), {"s": stage_id}).all()
        rows = {d: _epoch(t) for d, t in found}
        if len(rows) >= expected:
            break
        time.sleep(0.5)
    engine.dispose()
    return rows


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main() -> None:
    """Print intake vs trivial, the ratio, and end-to-end latency percentiles."""
    with fresh_database() as url:
        _, uid = seed_users(url)
        print(machine_report())
        trivial, bare, hooks, stored = intake(url)
        latencies = end_to_end(url, uid)
    t, b, h = trivial, bare, hooks
    print(f"app  GET /healthz              : {t['rps']:8.0f} req/s  p50 {t['p50']:.1f} ms  p99 {t['p99']:.1f} ms")
    print(f"bare POST intake (verify+store): {b['rps']:8.0f} req/s  p50 {b['p50']:.1f} ms  p99 {b['p99']:.1f} ms"
          f"  non-2xx {int(b['errors'])}")
    print(f"app  POST /hooks/payments/stripe: {h['rps']:7.0f} req/s  p50 {h['p50']:.1f} ms  p99 {h['p99']:.1f} ms"
          f"  non-2xx {int(h['errors'])}  events stored {stored}")
    print(f"ratio app intake / bare intake : {h['rps'] / b['rps']:.2f}  (target >= 0.8)")
    print(machine_report(t))
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"webhook -> first robot done    : p50 {statistics.median(latencies):.0f} ms  p99 {p99:.0f} ms"
              f"  ({len(latencies)} deals)")
    else:
        print("webhook -> first robot done    : no robot finished (check the server)")


if __name__ == "__main__":
    main()
