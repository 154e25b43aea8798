"""Trigger test fixtures: stripe secrets, deals, triggers, signed requests, and waiting for processing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from kanban.events import Actor
from kanban.models import Deal, EmailMessage, Invoice, StageEntry, TimelineEntry
from kanban.services.deals import create_deal
from triggers import config
from triggers.models import InboundEvent
from triggers.verify import stripe_signature

STRIPE_SECRETS = "whsec_stripe_current,whsec_stripe_previous"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Two Stripe secrets configured, as during a rotation."""
    return {"KANBAN_STRIPE_WEBHOOK_SECRET": STRIPE_SECRETS}


@pytest.fixture
def stages(pipeline: Any) -> dict[str, int]:
    """Stage ids by name: New, Qualified, Proposal, Invoice, Won, Lost."""
    return {s.name: s.id for s in pipeline.stages}


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until check() is truthy (the embedded worker processes events in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def make_deal(runtime: Any, pipeline: Any, stage_id: int, **kw: Any) -> int:
    """A deal created directly in a stage; returns its id."""
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title=kw.pop("title", "Acme"), pipeline_id=pipeline.id, stage_id=stage_id,
                           actor=Actor("system"), **kw)
        return deal.id


def add_trigger(runtime: Any, stage_id: int, kind: str, **data: Any) -> tuple[int, str | None]:
    """Create a trigger through the config service; returns (id, secret)."""
    with runtime.sessions() as s, s.begin():
        trigger, secret = config.create_trigger(s, stage_id, {"kind": kind, **data})
        return trigger.id, secret


def stage_of(runtime: Any, deal_id: int) -> int:
    with runtime.sessions() as s:
        return s.get(Deal, deal_id).stage_id


def events(runtime: Any, **where: Any) -> list[InboundEvent]:
    with runtime.sessions() as s:
        stmt = select(InboundEvent).filter_by(**where).order_by(InboundEvent.id)
        return list(s.scalars(stmt))


def settled(runtime: Any, timeout: float = 10.0, **where: Any) -> list[InboundEvent]:
    """Wait until every matching event left `pending`, and return them."""
    def done() -> list[InboundEvent] | None:
        rows = events(runtime, **where)
        return rows if rows and all(e.status != "pending" for e in rows) else None

    return wait_for(done, timeout, what=f"inbound events {where} processed")


def entries(runtime: Any, deal_id: int) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(StageEntry).where(StageEntry.deal_id == deal_id))


def timeline_texts(runtime: Any, deal_id: int, kind: str = "trigger") -> list[str]:
    with runtime.sessions() as s:
        return list(s.scalars(select(TimelineEntry.text).where(TimelineEntry.deal_id == deal_id,
                                                              TimelineEntry.kind == kind)
                              .order_by(TimelineEntry.id)))


def make_invoice(runtime: Any, deal_id: int, amount: int = 5000, token: str | None = "tok-pay-1",
                 provider: str | None = None) -> int:
    """An open invoice; a pay-page token makes it the embedded provider's, else the Stripe provider's."""
    with runtime.sessions() as s, s.begin():
        invoice = Invoice(deal_id=deal_id, amount=amount, currency="USD", description="Setup fee",
                          provider=provider or ("embedded" if token else "stripe"),
                          pay_token=token, url=f"http://testserver/pay/{token}" if token else None)
        s.add(invoice)
        s.flush()
        return invoice.id


def make_email(runtime: Any, deal_id: int | None, token: str, links: list[str], age_seconds: float = 3600) -> int:
    with runtime.sessions() as s, s.begin():
        sent = datetime.fromtimestamp(time.time() - age_seconds, UTC)
        message = EmailMessage(deal_id=deal_id, kind="client", from_address="crm@localhost", to_address="c@x.io",
                               subject="Offer", body_html="<p>hi</p>", status="sent", tracking_token=token,
                               links=links, created_at=sent, sent_at=sent)
        s.add(message)
        s.flush()
        return message.id


def stripe_event(invoice_id: int, *, event_id: str = "evt_1", kind: str = "checkout.session.completed",
                 amount: int = 5000) -> bytes:
    obj: dict[str, Any] = {"id": "cs_1", "object": "checkout.session", "metadata": {"invoice_id": str(invoice_id)},
                           "amount_total": amount, "currency": "usd", "payment_status": "paid"}
    if kind == "invoice.paid":
        obj = {"id": "in_1", "object": "invoice", "metadata": {"invoice_id": str(invoice_id)}, "amount_paid": amount,
               "currency": "usd"}
    return json.dumps({"id": event_id, "type": kind, "data": {"object": obj}}).encode()


def stripe_headers(body: bytes, secret: str = "whsec_stripe_current", at: int | None = None) -> dict[str, str]:
    return {"Stripe-Signature": stripe_signature(secret, body, at if at is not None else int(time.time())),
            "Content-Type": "application/json"}


def webhook_headers(secret: str, body: bytes, msg_id: str = "msg_1", at: datetime | None = None) -> dict[str, str]:
    """Headers made by the official standardwebhooks package, as an outside sender would."""
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
            "Content-Type": "application/json"}


def add_comment_robot(client: Any, stage_id: int, text: str = "Robot ran after the trigger") -> int:
    """An add_comment robot on a stage (through the API), to see that the target stage's robots run."""
    body = {"kind": "add_comment", "settings": {"text": text}}
    response = client.post(f"/api/v1/stages/{stage_id}/robots", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def robots_done(runtime: Any, deal_id: int, robot_id: int) -> bool:
    """True once the robot's run for this deal finished."""
    from robots.models import RobotRun

    with runtime.sessions() as s:
        runs = s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id, RobotRun.robot_id == robot_id))
        return any(r.status == "done" for r in runs)
