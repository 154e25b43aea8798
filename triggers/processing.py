"""Processing one stored inbound event: apply its effect (e.g. invoice paid) and fire triggers, once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from kanban import clock
from kanban.events import Actor
from kanban.models import Deal, Invoice
from kanban.services.deals import timeline
from triggers.inbound import claim, db_id, finish
from triggers.registry import Occurrence
from triggers.resolution import Outcome, fire

# Which trigger kinds a payment fires, by where it came from; one event still moves the deal at most once.
PAYMENT_KINDS = {
    "checkout": ["payment_received", "invoice_paid"],
    "embedded": ["payment_received", "invoice_paid"],
    "invoice": ["invoice_paid"],
    "manual": ["invoice_paid"],
}
DIRECT_KINDS = ("email_opened", "link_clicked", "inbound_webhook")
# Which invoice provider may be paid by a payment from each source (manual: an admin, any provider).
PAYING_PROVIDER = {"checkout": "stripe", "invoice": "stripe", "embedded": "embedded"}


def process_event(session: Session, event_id: int) -> str | None:
    """Claim and process a pending event in the caller's transaction; None when there was nothing to do."""
    event = claim(session, event_id)
    if event is None:
        return None
    payload: dict[str, Any] = dict(event.payload or {})
    if event.kind == "payment":
        outcome = _payment(session, event.id, payload)
        deal_id = payload.get("deal_id")
    elif event.kind in DIRECT_KINDS:
        deal_id = payload.get("deal_id") if event.deal_id is None else event.deal_id
        occurrence = Occurrence(event.kind, deal_id or 0, payload, event.id)
        outcome = (fire(session, deal_id, [event.kind], occurrence) if isinstance(deal_id, int)
                   else Outcome("ignored", "the event names no deal"))
    else:
        outcome = Outcome("ignored", f"unhandled event kind {event.kind!r}")
    known_deal = db_id(deal_id) is not None and session.get(Deal, deal_id) is not None
    finish(event, outcome.status, outcome.text, trigger_id=outcome.trigger_id,
           moved_to_stage_id=outcome.stage_id, deal_id=deal_id if known_deal else event.deal_id)
    return outcome.text


def _refusal(invoice: Invoice, payload: dict[str, Any]) -> str | None:
    """Why this payment may not pay this invoice: another provider's invoice, or a provider event without an
    amount (it cannot prove the invoice's amount was paid)."""
    source = str(payload.get("source"))
    provider = PAYING_PROVIDER.get(source)
    if provider is not None and invoice.provider != provider:
        return (f"a {source} payment cannot pay invoice #{invoice.id}, issued by the {invoice.provider} provider; "
                "invoice left open")
    if provider is not None and payload.get("amount") is None:
        return f"the {source} payment names no amount; invoice #{invoice.id} left open"
    return None


def _payment(session: Session, event_id: int, payload: dict[str, Any]) -> Outcome:
    invoice_id = payload.get("invoice_id")
    invoice = session.get(Invoice, invoice_id) if db_id(invoice_id) else None
    if invoice is None:
        return Outcome("ignored", f"invoice {invoice_id!r} not found")
    payload["deal_id"] = invoice.deal_id
    refused = _refusal(invoice, payload)
    if refused:
        timeline(session, invoice.deal_id, "payment", refused, Actor("system"), invoice_id=invoice.id)
        return Outcome("ignored", refused)
    amount = payload.get("amount")
    if amount is not None and (amount != invoice.amount or
                               str(payload.get("currency") or invoice.currency).upper() != invoice.currency):
        text = (f"payment of {amount} {payload.get('currency')} does not match invoice #{invoice.id} "
                f"({invoice.amount} {invoice.currency}); invoice left open")
        timeline(session, invoice.deal_id, "payment", text, Actor("system"), invoice_id=invoice.id)
        return Outcome("ignored", text)
    # Conditional update: of two events paying the same invoice, exactly one flips it.
    paid = session.execute(
        update(Invoice).where(Invoice.id == invoice.id, Invoice.status == "open")
        .values(status="paid", paid_at=clock.now()).execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(invoice)
    if paid != 1:
        return Outcome("ignored", f"invoice #{invoice.id} is already {invoice.status}")
    source = str(payload.get("source"))
    timeline(session, invoice.deal_id, "payment", f"Invoice #{invoice.id} paid ({source})", Actor("system"),
             invoice_id=invoice.id, amount=invoice.amount, currency=invoice.currency, source=source)
    kinds = PAYMENT_KINDS.get(source, ["invoice_paid"])
    data = {"invoice_id": invoice.id, "source": source}
    return fire(session, invoice.deal_id, kinds, Occurrence(kinds[0], invoice.deal_id, data, event_id))
