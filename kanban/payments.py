"""Payment providers: the embedded one (a local pay page) and a Stripe-compatible Checkout provider."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.models import Deal, Invoice
from kanban.outbound import Http, OutboundError, check_status

Outside = Callable[[Callable[[], Any]], Any]


def _direct(call: Callable[[], Any]) -> Any:
    return call()


class PaymentProvider(Protocol):
    """Creates an invoice and the link its payer follows."""

    name: str

    def create_payment_link(self, session: Session, deal: Deal, amount: int, currency: str, description: str,
                            idempotency_key: str, *, run_id: int | None = None, at: datetime | None = None,
                            outside: Outside = _direct, lines: Sequence[tuple[str, int]] = ()) -> Invoice:
        """An open invoice (flushed in `session`) with its payment URL; raises OutboundError.

        `lines` are the products paid for, (label, amount in minor units), summing to `amount`.

        A call to the provider goes through `outside` (a robot run's: made with no transaction open).
        """
        ...


def _invoice(deal: Deal, amount: int, currency: str, description: str, provider: str, run_id: int | None,
             at: datetime | None) -> Invoice:
    if amount <= 0:
        raise OutboundError("the amount to pay must be positive", transient=False)
    invoice = Invoice(deal_id=deal.id, run_id=run_id, amount=amount, currency=currency.upper(),
                      description=description[:500], provider=provider, status="open")
    if at is not None:
        invoice.created_at = at
    return invoice


class EmbeddedPayments:
    """Invoices paid on this app's own /pay/<token> page — demo only: no money moves."""

    name = "embedded"

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def create_payment_link(self, session: Session, deal: Deal, amount: int, currency: str, description: str,
                            idempotency_key: str, *, run_id: int | None = None, at: datetime | None = None,
                            outside: Outside = _direct, lines: Sequence[tuple[str, int]] = ()) -> Invoice:
        """An open invoice with an unguessable pay token; the whole effect is this row (no outside call)."""
        invoice = _invoice(deal, amount, currency, description, self.name, run_id, at)
        invoice.pay_token = secrets.token_urlsafe(24)
        invoice.url = f"{self.base}/pay/{invoice.pay_token}"
        session.add(invoice)
        session.flush()
        invoice.payment_link_id = f"embedded_{invoice.id}"
        session.flush()
        return invoice


class StripePayments:
    """Stripe-compatible Checkout Sessions: POST {base}/v1/checkout/sessions, form-encoded, idempotent."""

    name = "stripe"
    attempts = 3  # same request, same Idempotency-Key, retried within one call as Stripe's clients do

    def __init__(self, api_base: str, api_key: str | None, public_url: str, http: Http,
                 pause: float = 0.5) -> None:
        self.api_base = api_base.rstrip("/")
        self.api_key = api_key or ""
        self.public_url = public_url.rstrip("/")
        self.http = http
        self.pause = pause

    def create_payment_link(self, session: Session, deal: Deal, amount: int, currency: str, description: str,
                            idempotency_key: str, *, run_id: int | None = None, at: datetime | None = None,
                            outside: Outside = _direct, lines: Sequence[tuple[str, int]] = ()) -> Invoice:
        """Create the invoice row, then the provider's checkout session naming it; stores its id and URL.

        A run tried again after its worker died during the call finds its invoice (committed before the
        call) and asks again with the same idempotency key, so the provider returns the same session.
        """
        invoice = None
        if run_id is not None:
            invoice = session.scalars(select(Invoice).where(Invoice.run_id == run_id,
                                                            Invoice.status == "pending")).first()
        if invoice is None:
            invoice = _invoice(deal, amount, currency, description, self.name, run_id, at)
            invoice.status = "pending"  # open once the provider has given it a payment link
            session.add(invoice)
            session.flush()
        form = {
            "mode": "payment",
            **_line_items(lines or [(invoice.description or deal.title[:250], amount)], invoice.currency),
            "metadata[invoice_id]": str(invoice.id),
            "metadata[deal_id]": str(deal.id),
            "client_reference_id": str(invoice.id),
            "success_url": f"{self.public_url}/pay/complete?invoice_id={invoice.id}",
        }
        # The key names the invoice too: a rolled-back attempt's invoice id is never reused on PostgreSQL,
        # and a provider refuses a reused key with different parameters.
        headers = {"Authorization": f"Bearer {self.api_key}",
                   "Idempotency-Key": f"{idempotency_key}-invoice-{invoice.id}"}
        data = outside(lambda: self._post(form, headers))
        if not isinstance(data, dict) or not data.get("id") or not data.get("url"):
            raise OutboundError("payment provider returned no session id or url", transient=True)
        invoice.payment_link_id = str(data["id"])[:200]
        invoice.url = str(data["url"])[:1000]
        invoice.status = "open"
        session.flush()
        return invoice

    def _post(self, form: dict[str, str], headers: dict[str, str]) -> object:
        url = f"{self.api_base}/v1/checkout/sessions"
        for attempt in range(1, self.attempts + 1):
            try:
                response = check_status(self.http.request("POST", url, data=form, headers=headers),
                                        "payment provider")
                return response.json()
            except OutboundError as exc:
                if not exc.transient or attempt == self.attempts:
                    raise
            except ValueError as exc:
                raise OutboundError("payment provider answered with invalid JSON", transient=True) from exc
            time.sleep(self.pause * attempt)
        raise AssertionError("unreachable")


class NoPayments:
    """No provider configured: every payment link fails permanently, saying what to configure."""

    name = "none"

    def create_payment_link(self, session: Session, deal: Deal, amount: int, currency: str, description: str,
                            idempotency_key: str, *, run_id: int | None = None, at: datetime | None = None,
                            outside: Outside = _direct, lines: Sequence[tuple[str, int]] = ()) -> Invoice:
        """Always refuses: the built-in pay page would mark invoices paid with no money moving."""
        raise OutboundError(NO_PROVIDER, transient=False)


NO_PROVIDER = ("no payment provider is configured: set KANBAN_STRIPE_API_BASE and KANBAN_STRIPE_API_KEY "
               "(a Stripe-compatible provider); the built-in demo pay page runs only with KANBAN_DEMO=1 or "
               "KANBAN_PAYMENT_PROVIDER=demo")


def _line_items(lines: Sequence[tuple[str, int]], currency: str) -> dict[str, str]:
    """Checkout line items, one per deal line (quantity 1 at the line's gross, so they sum to the amount)."""
    form: dict[str, str] = {}
    for i, (label, amount) in enumerate(lines):
        form[f"line_items[{i}][quantity]"] = "1"
        form[f"line_items[{i}][price_data][currency]"] = currency.lower()
        form[f"line_items[{i}][price_data][unit_amount]"] = str(amount)
        form[f"line_items[{i}][price_data][product_data][name]"] = label[:250]
    return form


def make_payments(kind: str, public_url: str, api_base: str | None, api_key: str | None,
                  http: Http) -> PaymentProvider:
    """The provider named by Settings.payments_kind: "stripe", "demo" (embedded pay page) or "none"."""
    if kind == "stripe":
        if not api_base:
            return NoPayments()
        return StripePayments(api_base, api_key, public_url, http)
    if kind == "demo":
        return EmbeddedPayments(public_url)
    return NoPayments()
