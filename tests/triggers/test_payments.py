"""Payments: Stripe-signed webhooks, the embedded pay page, manual mark-paid; invoice_paid / payment_received."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from kanban.models import Invoice
from tests.conftest import csrf_of, login
from tests.triggers.conftest import (
    add_comment_robot,
    add_trigger,
    entries,
    events,
    make_deal,
    make_invoice,
    robots_done,
    settled,
    stage_of,
    stripe_event,
    stripe_headers,
    timeline_texts,
    wait_for,
)
from triggers.models import InboundEvent

HOOK = "/hooks/payments/stripe"


def test_checkout_webhook_moves_deal_and_runs_target_robots(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Won"], "payment_received", name="Paid")
    robot = add_comment_robot(admin_api, stages["Won"])
    body = stripe_event(invoice)
    response = admin_api.post(HOOK, content=body, headers=stripe_headers(body))
    assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    [event] = settled(runtime, provider="stripe")
    assert event.status == "processed" and event.moved_to_stage_id == stages["Won"]
    assert stage_of(runtime, deal) == stages["Won"]
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Won stage's robot")
    timeline = admin_api.get(f"/api/v1/deals/{deal}/timeline").json()["items"]
    moved = [t for t in timeline if t["kind"] == "stage_changed"][-1]
    assert moved["actor"]["type"] == "trigger"
    assert any(t["kind"] == "trigger" and "Paid" in t["text"] for t in timeline)
    assert any(t["kind"] == "payment" for t in timeline)
    invoices = admin_api.get(f"/api/v1/invoices?deal_id={deal}").json()["items"]
    assert invoices[0]["status"] == "paid" and invoices[0]["paid_at"]


def test_invoice_paid_event_fires_invoice_paid_only(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Proposal"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Invoice"], "payment_received")
    add_trigger(runtime, stages["Won"], "invoice_paid")
    body = stripe_event(invoice, kind="invoice.paid")
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    settled(runtime, provider="stripe")
    assert stage_of(runtime, deal) == stages["Won"]


def test_checkout_fires_both_kinds_earliest_stage_wins_once(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Qualified"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Won"], "payment_received")
    add_trigger(runtime, stages["Invoice"], "invoice_paid")
    body = stripe_event(invoice)
    client.post(HOOK, content=body, headers=stripe_headers(body))
    settled(runtime, provider="stripe")
    assert stage_of(runtime, deal) == stages["Invoice"]
    assert entries(runtime, deal) == 2  # created + exactly one move


def test_duplicate_deliveries_concurrently_move_once(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Won"], "invoice_paid")
    body = stripe_event(invoice, event_id="evt_dup")
    headers = stripe_headers(body)
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda _: client.post(HOOK, content=body, headers=headers).status_code, range(10)))
    assert codes == [200] * 10
    [event] = settled(runtime, provider="stripe")
    assert event.event_id == "evt_dup"
    assert stage_of(runtime, deal) == stages["Won"] and entries(runtime, deal) == 2


def test_rotated_secret_accepted_and_several_v1(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    body = stripe_event(invoice, event_id="evt_rot")
    old = stripe_headers(body, "whsec_stripe_previous")
    assert client.post(HOOK, content=body, headers=old).status_code == 200
    wrong_then_right = stripe_headers(body, "whsec_unknown")["Stripe-Signature"] + "," + \
        stripe_headers(body)["Stripe-Signature"].split(",")[1]
    body2 = stripe_event(invoice, event_id="evt_rot2")
    header = wrong_then_right.replace(stripe_headers(body)["Stripe-Signature"].split(",")[1],
                                      stripe_headers(body2)["Stripe-Signature"].split(",")[1])
    assert client.post(HOOK, content=body2, headers={"Stripe-Signature": header}).status_code == 200
    assert len(events(runtime, provider="stripe")) == 2


def test_attacks_are_refused_and_write_nothing(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    body = stripe_event(invoice)
    now = int(time.time())
    cases = {
        "bad secret": (body, stripe_headers(body, "whsec_attacker")),
        "tampered body": (body.replace(b"5000", b"1"), stripe_headers(body)),
        "stale": (body, stripe_headers(body, at=now - 301)),
        "future": (body, stripe_headers(body, at=now + 301)),
        "no header": (body, {}),
        "garbage header": (body, {"Stripe-Signature": "nonsense"}),
    }
    for name, (payload, headers) in cases.items():
        response = client.post(HOOK, content=payload, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "bad_signature", name
    assert events(runtime) == []
    with runtime.sessions() as s:
        assert s.get(Invoice, invoice).status == "open"


def test_body_cap_and_amount_mismatch(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Won"], "invoice_paid")
    huge = b"{" + b" " * (70 * 1024) + b"}"
    assert client.post(HOOK, content=huge, headers=stripe_headers(huge)).status_code == 413
    body = stripe_event(invoice, amount=1)
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    [event] = settled(runtime, provider="stripe")
    assert event.status == "ignored" and "does not match" in event.outcome
    assert stage_of(runtime, deal) == stages["Invoice"]


def test_unknown_invoice_and_unhandled_type_are_recorded(client, runtime, pipeline, stages):
    body = stripe_event(999_999, event_id="evt_nope")
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    other = b'{"id": "evt_other", "type": "customer.created", "data": {"object": {}}}'
    assert client.post(HOOK, content=other, headers=stripe_headers(other)).status_code == 200
    rows = {e.event_id: e for e in settled(runtime, provider="stripe")}
    assert rows["evt_nope"].status == "ignored" and "not found" in rows["evt_nope"].outcome
    assert rows["evt_other"].status == "ignored" and "not handled" in rows["evt_other"].outcome


def test_pay_page_pays_through_the_event_store(client, runtime, pipeline, stages, admin):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    make_invoice(runtime, deal, token="tok-abc")
    add_trigger(runtime, stages["Won"], "payment_received")
    page = client.get("/pay/tok-abc")
    assert page.status_code == 200 and "$50.00" in page.text and "Setup fee" in page.text
    assert client.get("/pay/unknown-token").status_code == 404
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/pay/tok-abc", data={}).status_code == 403  # the pay form keeps CSRF
    for _ in range(2):  # a double click is one payment
        done = client.post("/pay/tok-abc", data={"csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303
    [event] = settled(runtime, provider="embedded")
    assert event.status == "processed" and stage_of(runtime, deal) == stages["Won"]
    assert "Paid" in client.get("/pay/tok-abc").text


def test_mark_paid_by_hand_api(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Proposal"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    add_trigger(runtime, stages["Invoice"], "payment_received")  # a manual mark is not a payment received
    add_trigger(runtime, stages["Won"], "invoice_paid")
    robot = add_comment_robot(admin_api, stages["Won"])
    response = admin_api.post(f"/api/v1/invoices/{invoice}/mark-paid")
    assert response.status_code == 200 and response.json()["status"] == "paid"
    assert stage_of(runtime, deal) == stages["Won"]
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Won stage's robot")
    again = admin_api.post(f"/api/v1/invoices/{invoice}/mark-paid")
    assert again.status_code == 200 and entries(runtime, deal) == 2
    assert admin_api.post("/api/v1/invoices/424242/mark-paid").status_code == 404
    void = make_invoice(runtime, deal, token=None)
    with runtime.sessions() as s, s.begin():
        s.get(Invoice, void).status = "void"
    assert admin_api.post(f"/api/v1/invoices/{void}/mark-paid").status_code == 409


def test_mark_paid_requires_admin(rep_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Proposal"])
    invoice = make_invoice(runtime, deal, token=None)
    assert rep_api.post(f"/api/v1/invoices/{invoice}/mark-paid").status_code == 403
    assert rep_api.get(f"/api/v1/invoices?deal_id={deal}").status_code == 200
    assert rep_api.get("/api/v1/invoices").status_code == 400


def test_deal_page_panel_mark_paid_button(client, runtime, pipeline, stages, admin):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token="tok-panel")
    add_trigger(runtime, stages["Won"], "invoice_paid")
    login(client, admin.email)
    page = client.get(f"/deals/{deal}")
    assert page.status_code == 200 and "Mark paid" in page.text and "tok-panel" in page.text
    response = client.post(f"/deals/{deal}/invoices/{invoice}/mark-paid", data={"csrf_token": csrf_of(client)},
                           follow_redirects=False)
    assert response.status_code == 303
    assert stage_of(runtime, deal) == stages["Won"]
    assert any("invoice" in t for t in timeline_texts(runtime, deal))
    with runtime.sessions() as s:
        assert s.query(InboundEvent).filter_by(provider="manual").one().status == "processed"


def test_provider_return_page(client):
    response = client.get("/pay/complete?invoice_id=1")
    assert response.status_code == 200 and "Thank you" in response.text


def test_out_of_range_invoice_id_is_ignored_not_retried(client, runtime):
    body = stripe_event(10**20, event_id="evt_huge")
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    [event] = settled(runtime, provider="stripe")
    assert event.status == "ignored" and event.attempts == 1 and "not found" in event.outcome


def test_stripe_event_without_amount_does_not_pay(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token=None)
    body = stripe_event(invoice).replace(b'"amount_total": 5000, ', b"")
    assert b"amount_total" not in body
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    [event] = settled(runtime, provider="stripe")
    assert event.status == "ignored" and "names no amount" in event.outcome
    with runtime.sessions() as s:
        assert s.get(Invoice, invoice).status == "open"


def test_an_invoice_is_paid_only_by_the_provider_that_issued_it(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    embedded = make_invoice(runtime, deal, token="tok-demo")  # the built-in provider's invoice
    body = stripe_event(embedded, event_id="evt_cross")
    assert client.post(HOOK, content=body, headers=stripe_headers(body)).status_code == 200
    [event] = settled(runtime, provider="stripe")
    assert event.status == "ignored" and "issued by the embedded provider" in event.outcome
    stripe_invoice = make_invoice(runtime, deal, token="tok-stripe", provider="stripe")
    page = client.get("/pay/tok-stripe")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/pay/tok-stripe", data={"csrf_token": token}, follow_redirects=False)
    [event] = settled(runtime, provider="embedded")
    assert event.status == "ignored" and "issued by the stripe provider" in event.outcome
    with runtime.sessions() as s:
        assert {s.get(Invoice, i).status for i in (embedded, stripe_invoice)} == {"open"}


def test_pay_page_says_demo_and_is_gone_outside_demo_mode(client, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"], amount=5000)
    invoice = make_invoice(runtime, deal, token="tok-demo")
    assert "Demo payment page" in client.get("/pay/tok-demo").text
    runtime.settings.payment_provider = "none"
    assert client.get("/pay/tok-demo").status_code == 404
    csrf = csrf_of(client, "/login")
    assert client.post("/pay/tok-demo", data={"csrf_token": csrf}).status_code == 404
    with runtime.sessions() as s:
        assert s.get(Invoice, invoice).status == "open"
    assert events(runtime) == []
