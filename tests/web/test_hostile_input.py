"""Hostile input that used to crash with a 500 now gets a clear 4xx and writes nothing (issue 8)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from kanban.models import Deal, TimelineEntry
from tests.conftest import csrf_of, login
from tests.triggers.conftest import add_trigger, stripe_headers

BIG = 2**31


def _count(runtime: Any, model: Any) -> int:
    with runtime.sessions() as s:
        return s.query(model).count()


def _post_raw(client: Any, path: str, raw: bytes, method: str = "POST") -> Any:
    return client.request(method, path, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 5000])
def test_api_refuses_non_finite_and_huge_numbers(admin_api, runtime, pipeline, value):
    deals = _count(runtime, Deal)
    raw = b'{"title": "x", "pipeline_id": %d, "fields": {"n": %s}}' % (pipeline.id, value)
    response = _post_raw(admin_api, "/api/v1/deals", raw)
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] in ("bad_request", "validation_error")
    amount = _post_raw(admin_api, "/api/v1/deals", b'{"title": "x", "pipeline_id": %d, "amount": %s}'
                       % (pipeline.id, value))
    assert amount.status_code in (400, 422), amount.text
    made = admin_api.post("/api/v1/deals", json={"title": "ok", "pipeline_id": pipeline.id}).json()
    patch = _post_raw(admin_api, f"/api/v1/deals/{made['id']}", b'{"fields": {"n": %s}}' % value, "PATCH")
    assert patch.status_code in (400, 422), patch.text
    assert _count(runtime, Deal) == deals + 1
    assert admin_api.get(f"/api/v1/deals/{made['id']}").json()["fields"] == {}


@pytest.mark.parametrize("raw", [b'{"title": "a\\ud800b", "pipeline_id": %d}',
                                 b'{"title": "t", "pipeline_id": %d, "fields": {"k\\udfff": 1}}'])
def test_api_refuses_lone_surrogates(admin_api, runtime, pipeline, raw):
    response = _post_raw(admin_api, "/api/v1/deals", raw % pipeline.id)
    assert response.status_code == 422 and "surrogate" in response.json()["error"]["message"]
    assert _count(runtime, Deal) == 0


@pytest.mark.parametrize("path", [f"/deals/{BIG}", f"/deals/{BIG}/live", f"/chats/{BIG}", f"/mailbox/{BIG}",
                                  f"/board/columns/{BIG}", f"/automation/robots/{BIG}",
                                  f"/automation/triggers/{BIG}", f"/admin/stages/{BIG}/delete", "/deals/" + "9" * 40])
def test_html_ids_beyond_the_column_range_are_not_found(admin_web, path):
    assert admin_web.get(path).status_code == 404


@pytest.mark.parametrize("query", [f"/board?responsible_id={BIG}", f"/board?pipeline_id={BIG}",
                                   f"/mailbox?deal_id={BIG}", f"/sms?deal_id={BIG}", "/board?q=a%00b"])
def test_html_query_ids_beyond_range_and_nul_are_400(admin_web, query):
    assert admin_web.get(query).status_code == 400


def test_html_form_ids_beyond_range_are_refused_and_nothing_moves(rep_web, runtime, deals, pipeline):
    deal = deals[0]
    token = csrf_of(rep_web)
    for name in ("stage_id", "above_id", "below_id", "version"):
        data = {"stage_id": str(pipeline.stages[1].id), "csrf_token": token, name: str(BIG)}
        response = rep_web.post(f"/deals/{deal.id}/move", data=data, follow_redirects=False)
        assert 400 <= response.status_code < 500, (name, response.status_code)
    with runtime.sessions() as s:
        assert s.get(Deal, deal.id).stage_id == pipeline.stages[0].id


def test_nul_bytes_in_form_fields_are_400(client, rep_web, runtime, deals):
    token = csrf_of(rep_web)
    edit = rep_web.post(f"/deals/{deals[0].id}", data={"csrf_token": token, "title": "a\x00b"})
    assert edit.status_code == 400
    with runtime.sessions() as s:
        assert s.get(Deal, deals[0].id).title == "Acme renewal"


def test_anonymous_login_with_nul_in_the_email_is_400(client, rep):
    token = csrf_of(client, "/login")
    response = client.post("/login", content=f"email=a%00b@x&password=p&csrf_token={token}",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_absurd_amount_in_the_deal_form_is_a_form_error(rep_web, runtime, deals):
    token = csrf_of(rep_web)
    before = _count(runtime, TimelineEntry)
    response = rep_web.post(f"/deals/{deals[0].id}", data={
        "csrf_token": token, "title": "Acme renewal", "amount": "1e999999999", "currency": "USD",
        "version": "1"})
    # An exponent is not an amount people type: the form asks for one written out.
    assert response.status_code == 422 and "enter an amount like" in response.text
    huge = rep_web.post(f"/deals/{deals[0].id}", data={
        "csrf_token": token, "title": "Acme renewal", "amount": "9" * 40, "currency": "USD", "version": "1"})
    assert huge.status_code == 422 and "too large" in huge.text
    assert _count(runtime, TimelineEntry) == before


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"KANBAN_STRIPE_WEBHOOK_SECRET": "whsec_stripe_current"}


def test_deeply_nested_signed_bodies_are_400_on_both_hooks(client, runtime, pipeline):
    body = _nested(5000)
    stripe = client.post("/hooks/payments/stripe", content=body, headers=stripe_headers(body))
    assert stripe.status_code == 400, stripe.text
    trigger_id, secret = add_trigger(runtime, pipeline.stages[1].id, "inbound_webhook")
    body = _nested(5000)
    signature = Webhook(secret).sign("msg_deep", datetime.now(UTC), body.decode())
    headers = {"webhook-id": "msg_deep", "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
               "webhook-signature": signature, "Content-Type": "application/json"}
    hook = client.post(f"/hooks/triggers/{trigger_id}", content=body, headers=headers)
    assert hook.status_code == 400, hook.text


def _chunks(total: int, size: int = 64 * 1024) -> Any:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_chunked_api_body_beyond_one_mib_is_413_and_nothing_is_stored(admin_api, runtime, pipeline):
    head = json.dumps({"title": "big", "pipeline_id": pipeline.id, "fields": {"x": ""}})[:-3].encode()

    def body() -> Any:
        yield head
        yield from _chunks(3 * 1024 * 1024)
        yield b'"}}'

    response = admin_api.post("/api/v1/deals", content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert _count(runtime, Deal) == 0


def test_chunked_form_body_beyond_the_cap_is_413(rep_web, deals):
    token = csrf_of(rep_web)

    def body() -> Any:
        yield f"csrf_token={token}&title=".encode()
        yield from _chunks(3 * 1024 * 1024, 256 * 1024)

    response = rep_web.post(f"/deals/{deals[0].id}", content=body(),
                            headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token})
    assert response.status_code == 413


def test_login_page_still_works(client, rep):
    login(client, rep.email)
    assert client.get("/board").status_code == 200


@pytest.mark.parametrize("field", ["responsible_id", "version"])
def test_deal_form_ids_beyond_range_are_refused(rep_web, runtime, deals, field):
    token = csrf_of(rep_web)
    data = {"csrf_token": token, "title": "Changed", "amount": "1", "currency": "USD", "version": "1",
            field: str(BIG)}
    response = rep_web.post(f"/deals/{deals[0].id}", data=data)
    assert 400 <= response.status_code < 500
    with runtime.sessions() as s:
        assert s.get(Deal, deals[0].id).title == "Acme renewal"


def test_board_create_form_and_robot_order_with_huge_ids(admin_web, runtime, pipeline):
    token = csrf_of(admin_web)
    created = admin_web.post("/board/deals", data={"csrf_token": token, "stage_id": str(BIG), "title": "x"})
    assert 400 <= created.status_code < 500
    order = admin_web.post(f"/automation/stages/{pipeline.stages[0].id}/order",
                           data={"csrf_token": token, "ids": str(BIG)})
    assert 400 <= order.status_code < 500
    assert _count(runtime, Deal) == 0
