"""Payment providers: embedded pay links, and the Stripe-compatible provider against a local fake with idempotency."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from kanban.events import Actor
from kanban.models import Deal, Invoice
from kanban.outbound import Http, OutboundError
from kanban.payments import EmbeddedPayments, NoPayments, StripePayments, make_payments
from kanban.services.deals import create_deal
from tests.fake_http import serve


class FakeStripe:
    """Checkout Sessions with Stripe's idempotency rules: same key + same params replays, other params → 400."""

    def __init__(self) -> None:
        self.failures: list[int] = []  # statuses to answer before processing (the request is not recorded)
        self.sessions: dict[str, tuple[dict, tuple[int, dict]]] = {}
        self.lose_responses = 0  # process the request, then answer 504 as if the response was lost

    def __call__(self, seen):
        if self.failures:
            return self.failures.pop(0), {"error": {"type": "api_error"}}
        if seen.headers.get("authorization") != "Bearer sk_test_123":
            return 401, {"error": {"type": "invalid_request_error", "message": "bad key"}}
        params = parse_qs(seen.body.decode())
        key = seen.headers.get("idempotency-key")
        if key in self.sessions:
            first, reply = self.sessions[key]
            if first != params:
                return 400, {"error": {"type": "idempotency_error"}}
            return reply
        session_id = f"cs_test_{len(self.sessions) + 1}"
        reply = (200, {"id": session_id, "url": f"https://checkout.example/c/pay/{session_id}", "object":
                       "checkout.session"})
        if key:
            self.sessions[key] = (params, reply)
        if self.lose_responses:
            self.lose_responses -= 1
            return 504, None
        return reply


@pytest.fixture
def stripe():
    fake = FakeStripe()
    with serve(fake) as server:
        http = Http()
        yield fake, server, StripePayments(server.url, "sk_test_123", "http://testserver", http, pause=0.01)
        http.close()


@pytest.fixture
def deal_id(runtime, pipeline, admin):
    with runtime.sessions() as s, s.begin():
        return create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor.user(admin.id), amount=990,
                           currency="eur").id


def _create(runtime, provider, deal_id, key="run-7"):
    with runtime.sessions() as s, s.begin():
        invoice = provider.create_payment_link(s, s.get(Deal, deal_id), 990, "EUR", "Setup fee", key, run_id=7)
        return invoice.id, invoice.payment_link_id, invoice.url


def test_checkout_session_request_and_stored_link(runtime, deal_id, stripe):
    fake, server, provider = stripe
    invoice_id, link_id, url = _create(runtime, provider, deal_id)
    [seen] = server.requests
    assert seen.path == "/v1/checkout/sessions"
    assert seen.headers["idempotency-key"] == f"run-7-invoice-{invoice_id}"
    form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
    assert form == {
        "mode": "payment", "line_items[0][quantity]": "1", "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "990", "line_items[0][price_data][product_data][name]": "Setup fee",
        "metadata[invoice_id]": str(invoice_id), "metadata[deal_id]": str(deal_id),
        "client_reference_id": str(invoice_id),
        "success_url": f"http://testserver/pay/complete?invoice_id={invoice_id}",
    }
    assert (link_id, url) == ("cs_test_1", "https://checkout.example/c/pay/cs_test_1")
    with runtime.sessions() as s:
        invoice = s.get(Invoice, invoice_id)
        assert (invoice.provider, invoice.status, invoice.run_id, invoice.amount) == ("stripe", "open", 7, 990)


def test_transient_failures_are_retried_with_the_same_key_and_params(runtime, deal_id, stripe):
    fake, server, provider = stripe
    fake.failures = [503, 500]
    invoice_id, link_id, _ = _create(runtime, provider, deal_id)
    assert len(server.requests) == 3
    assert {r.headers["idempotency-key"] for r in server.requests} == {f"run-7-invoice-{invoice_id}"}
    assert len({r.body for r in server.requests}) == 1 and link_id == "cs_test_1"


def test_a_lost_response_does_not_create_a_second_session(runtime, deal_id, stripe):
    fake, server, provider = stripe
    fake.lose_responses = 1  # processed, but the answer never arrives: the retry must replay, not duplicate
    invoice_id, link_id, _ = _create(runtime, provider, deal_id)
    assert len(server.requests) == 2 and len(fake.sessions) == 1 and link_id == "cs_test_1"


def test_persistent_5xx_is_transient_and_rolls_back(runtime, deal_id, stripe):
    fake, server, provider = stripe
    fake.failures = [502, 502, 502]
    with pytest.raises(OutboundError) as caught:
        _create(runtime, provider, deal_id)
    assert caught.value.transient and len(server.requests) == 3
    with runtime.sessions() as s:
        assert s.query(Invoice).count() == 0


def test_4xx_is_permanent(runtime, deal_id, stripe):
    fake, server, _ = stripe
    http = Http()
    wrong_key = StripePayments(server.url, "sk_wrong", "http://testserver", http)
    with pytest.raises(OutboundError) as caught:
        _create(runtime, wrong_key, deal_id)
    http.close()
    assert not caught.value.transient and caught.value.status == 401 and len(server.requests) == 1


def test_embedded_provider_and_choice(runtime, deal_id):
    http = Http()
    assert isinstance(make_payments("demo", "http://x", None, None, http), EmbeddedPayments)
    assert isinstance(make_payments("stripe", "http://x", "http://stripe", "k", http), StripePayments)
    assert isinstance(make_payments("none", "http://x", None, None, http), NoPayments)
    assert isinstance(make_payments("stripe", "http://x", None, None, http), NoPayments)
    http.close()
    invoice_id, link_id, url = _create(runtime, EmbeddedPayments("https://crm.example/"), deal_id)
    with runtime.sessions() as s:
        invoice = s.get(Invoice, invoice_id)
    assert url == f"https://crm.example/pay/{invoice.pay_token}" and link_id == f"embedded_{invoice_id}"
    with pytest.raises(OutboundError, match="positive"), runtime.sessions() as s:
        EmbeddedPayments("x").create_payment_link(s, s.get(Deal, deal_id), 0, "EUR", "", "k")


@pytest.mark.parametrize(("env", "kind"), [
    ({}, "none"),
    ({"KANBAN_DEMO": "1"}, "demo"),
    ({"KANBAN_PAYMENT_PROVIDER": "demo"}, "demo"),
    ({"KANBAN_STRIPE_API_BASE": "http://stripe"}, "stripe"),
    ({"KANBAN_DEMO": "1", "KANBAN_STRIPE_API_BASE": "http://stripe"}, "stripe"),
    ({"KANBAN_DEMO": "1", "KANBAN_PAYMENT_PROVIDER": "none"}, "none"),
])
def test_the_built_in_provider_runs_only_in_demo_mode(env, kind, monkeypatch):
    from kanban.config import load_settings

    for name in ("KANBAN_DEMO", "KANBAN_PAYMENT_PROVIDER", "KANBAN_STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(**env).payments_kind == kind
