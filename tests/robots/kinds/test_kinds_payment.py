"""create_payment_link with the embedded provider: an invoice, an unguessable pay URL, outputs for later robots."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import Invoice, TimelineEntry
from kanban.services.deals import update_deal
from robots.errors import PermanentError, TransientError


def test_payment_link_for_the_deal_amount(kit):
    out = kit.run("create_payment_link", {"description": "Invoice for {{ deal.title }}"})
    with kit.runtime.sessions() as s:
        invoice = s.get(Invoice, out["invoice_id"])
        payment = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "payment")).one()
    assert (invoice.amount, invoice.currency, invoice.status, invoice.provider) == (125000, "USD", "open", "embedded")
    assert invoice.description == "Invoice for Acme renewal" and invoice.run_id == kit.last_run_id
    assert len(invoice.pay_token) >= 32
    assert out == {"url": f"http://testserver/pay/{invoice.pay_token}", "invoice_id": invoice.id,
                   "payment_link_id": f"embedded_{invoice.id}"}
    assert "1250.00 USD" in payment.text


def test_payment_link_url_feeds_a_later_email(kit):
    link = kit.run("create_payment_link", {"amount": 5000})
    kit.run("email_client", {"subject": "Pay", "body": '<a href="{{ robots.pay.url }}">Pay now</a>'},
            outputs_by_key={"pay": link})
    from kanban.models import EmailMessage

    with kit.runtime.sessions() as s:
        mail = s.scalars(select(EmailMessage)).one()
        assert s.get(Invoice, link["invoice_id"]).amount == 5000
    assert mail.links == [link["url"]]


def test_tokens_differ_between_invoices(kit):
    a = kit.run("create_payment_link", {})
    b = kit.run("create_payment_link", {})
    assert a["url"] != b["url"] and a["invoice_id"] != b["invoice_id"]


def test_zero_amount_fails_permanently(kit, admin):
    with kit.runtime.sessions() as s, s.begin():
        update_deal(s, kit.deal_id, {"amount": 0}, actor=Actor.user(admin.id))
    with pytest.raises(PermanentError, match="amount is 0"):
        kit.run("create_payment_link", {})
    with pytest.raises(ValueError):
        kit.run("create_payment_link", {"amount": -5})


@pytest.fixture
def stripe_kit(kit):
    """The kit with the Stripe-compatible provider pointed at a local fake."""
    from kanban.outbound import Http
    from kanban.payments import StripePayments
    from tests.fake_http import serve

    replies = []

    def respond(seen):
        return replies.pop(0) if replies else (200, {"id": "cs_1", "url": "https://pay.example/cs_1"})

    with serve(respond) as server:
        http = Http()
        kit.services = {**kit.runtime.extras["services"],
                        "payments": StripePayments(server.url, "sk", "http://testserver", http, pause=0.01)}
        kit.replies, kit.server = replies, server
        yield kit
        http.close()


def test_stripe_link_outputs_and_error_classes(stripe_kit):
    out = stripe_kit.run("create_payment_link", {})
    assert out == {"url": "https://pay.example/cs_1", "invoice_id": out["invoice_id"], "payment_link_id": "cs_1"}
    key = stripe_kit.server.requests[0].headers["idempotency-key"]
    assert key == f"run-{stripe_kit.last_run_id}-invoice-{out['invoice_id']}"
    stripe_kit.replies.extend([(500, None)] * 3)
    with pytest.raises(TransientError):
        stripe_kit.run("create_payment_link", {})
    stripe_kit.replies.append((400, {"error": {"message": "currency not supported"}}))
    with pytest.raises(PermanentError, match="400"):
        stripe_kit.run("create_payment_link", {})
    with stripe_kit.runtime.sessions() as s:
        assert s.query(Invoice).count() == 1  # failed attempts left nothing behind


def test_without_a_provider_the_link_fails_permanently_and_writes_nothing(kit):
    from kanban.payments import NoPayments

    kit.services = {**kit.runtime.extras["services"], "payments": NoPayments()}
    with pytest.raises(PermanentError, match="no payment provider is configured.*KANBAN_PAYMENT_PROVIDER=demo"):
        kit.run("create_payment_link", {})
    with kit.runtime.sessions() as s:
        assert s.query(Invoice).count() == 0
