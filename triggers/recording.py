"""Turning verified outside calls into stored inbound events (pixels, clicks, payments, webhooks)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kanban import clock
from kanban.errors import ConflictError, NotFoundError
from kanban.i18n import _
from kanban.models import EmailMessage, Invoice
from kanban.tracking import TRACKING_MAX_AGE
from triggers.inbound import Enqueue, db_id, store_event
from triggers.processing import process_event

_TOKEN = re.compile(r"[A-Za-z0-9_\-.]+")


def plausible_token(token: str, longest: int = 200) -> bool:
    """True for URL-safe token text of sane length (anything else cannot be ours and is not looked up)."""
    return bool(token) and len(token) <= longest and _TOKEN.fullmatch(token) is not None


def _email(session: Session, token: str) -> EmailMessage | None:
    if not plausible_token(token):
        return None
    message = session.scalars(select(EmailMessage).where(EmailMessage.tracking_token == token)).first()
    if message is None or clock.now() - message.created_at > TRACKING_MAX_AGE:
        return None  # unknown or expired: nothing is recorded
    return message


def record_open(session: Session, enqueue: Enqueue, token: str, machine_seconds: float) -> bool:
    """Count a pixel load; the first human open (and the first machine open) become events. False if unknown."""
    message = _email(session, token)
    if message is None:
        return False
    now = clock.now()
    sent: datetime = message.sent_at or message.created_at
    machine = (now - sent).total_seconds() < machine_seconds
    # Counter and first-open time as conditional SQL updates: concurrent pixel loads never lose a count.
    session.execute(update(EmailMessage).where(EmailMessage.id == message.id)
                    .values(open_count=EmailMessage.open_count + 1).execution_options(synchronize_session=False))
    if not machine:
        session.execute(update(EmailMessage).where(EmailMessage.id == message.id, EmailMessage.opened_at.is_(None))
                        .values(opened_at=now).execution_options(synchronize_session=False))
    payload = {"email_id": message.id, "machine": machine, "deal_id": message.deal_id}
    store_event(session, enqueue, provider="pixel", event_id=f"{token}:machine" if machine else token,
                kind="email_opened", payload=payload, deal_id=message.deal_id,
                **_no_deal(message.deal_id))
    return True


def record_click(session: Session, enqueue: Enqueue, email_token: str, index: int) -> str | None:
    """The original URL of a tracked link (recording the click once), or None when unknown."""
    message = _email(session, email_token)
    links = message.links if message is not None else None
    if message is None or not isinstance(links, list) or not 0 <= index < len(links):
        return None
    url = links[index]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    session.execute(update(EmailMessage).where(EmailMessage.id == message.id, EmailMessage.clicked_at.is_(None))
                    .values(clicked_at=clock.now()).execution_options(synchronize_session=False))
    payload = {"email_id": message.id, "index": index, "url": url, "deal_id": message.deal_id}
    store_event(session, enqueue, provider="click", event_id=f"{email_token}:{index}", kind="link_clicked",
                payload=payload, deal_id=message.deal_id, **_no_deal(message.deal_id))
    return url


def _no_deal(deal_id: int | None) -> dict[str, Any]:
    return {} if deal_id is not None else {"status": "ignored", "outcome": "the email belongs to no deal"}


def stripe_payload(event: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(payment payload, "") for a handled Stripe event, else (None, why it is ignored)."""
    kind = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return None, "event has no data.object"
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if kind == "checkout.session.completed":
        if obj.get("payment_status") not in (None, "paid", "no_payment_required"):
            return None, f"checkout completed with payment_status={obj.get('payment_status')!r}"
        ref, source, amount = metadata.get("invoice_id") or obj.get("client_reference_id"), "checkout", "amount_total"
    elif kind == "invoice.paid":
        ref, source, amount = metadata.get("invoice_id"), "invoice", "amount_paid"
    else:
        return None, f"event type {kind!r} is not handled"
    invoice_id = int(ref) if isinstance(ref, (int, str)) and str(ref).isdigit() else None
    if invoice_id is None:
        return None, "event names no invoice (metadata.invoice_id / client_reference_id)"
    total = obj.get(amount)
    currency = obj.get("currency")
    return {"source": source, "invoice_id": invoice_id, "amount": total if isinstance(total, int) else None,
            "currency": currency.upper() if isinstance(currency, str) else None, "stripe_type": kind}, ""


def record_stripe(session: Session, enqueue: Enqueue, event: dict[str, Any]) -> int | None:
    """Store a verified Stripe event once; unhandled types are stored as ignored. None for a duplicate."""
    payload, why = stripe_payload(event)
    if payload is None:
        return store_event(session, None, provider="stripe", event_id=str(event["id"]), kind="payment",
                           payload={"stripe_type": event.get("type")}, status="ignored", outcome=why)
    return store_event(session, enqueue, provider="stripe", event_id=str(event["id"]), kind="payment",
                       payload=payload)


def invoice_by_token(session: Session, pay_token: str) -> Invoice:
    """The invoice behind a pay-page token, or NotFoundError."""
    invoice = None
    if plausible_token(pay_token, 100):
        invoice = session.scalars(select(Invoice).where(Invoice.pay_token == pay_token)).first()
    if invoice is None:
        raise NotFoundError(_("no such payment link"))
    return invoice


def record_embedded_payment(session: Session, enqueue: Enqueue, pay_token: str) -> Invoice:
    """The pay page's Pay button: store the payment like a provider webhook (once per invoice)."""
    invoice = invoice_by_token(session, pay_token)
    store_event(session, enqueue, provider="embedded", event_id=f"pay:{invoice.id}", kind="payment",
                payload={"source": "embedded", "invoice_id": invoice.id, "amount": invoice.amount,
                         "currency": invoice.currency})
    return invoice


def mark_paid(session: Session, invoice_id: int, user_id: int) -> Invoice:
    """An admin marks an invoice paid by hand: stored as an event and processed in this transaction."""
    invoice = session.get(Invoice, invoice_id) if db_id(invoice_id) else None
    if invoice is None:
        raise NotFoundError(_("invoice %(invoice_id)s not found", invoice_id=invoice_id))
    if invoice.status not in ("open", "paid"):
        raise ConflictError(_("invoice #%(id)s is %(status)s and cannot be paid", id=invoice.id, status=invoice.status))
    new_id = store_event(session, None, provider="manual", event_id=f"manual:{invoice.id}", kind="payment",
                         payload={"source": "manual", "invoice_id": invoice.id, "by_user_id": user_id})
    if new_id is not None:
        process_event(session, new_id)
    session.refresh(invoice)
    return invoice


def record_webhook(session: Session, enqueue: Enqueue, trigger_id: int, webhook_id: str, deal_id: int) -> int | None:
    """Store a verified inbound-webhook call once per webhook-id; None for a duplicate."""
    payload = {"trigger_id": trigger_id, "webhook_id": webhook_id, "deal_id": deal_id}
    return store_event(session, enqueue, provider=f"webhook:{trigger_id}", event_id=webhook_id,
                       kind="inbound_webhook", payload=payload)

