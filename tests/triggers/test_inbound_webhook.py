"""Inbound webhook triggers: Standard Webhooks signatures (official package as client), dedupe, rotation."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from kanban import clock
from tests.triggers.conftest import (
    add_comment_robot,
    entries,
    events,
    make_deal,
    robots_done,
    settled,
    stage_of,
    wait_for,
    webhook_headers,
)
from triggers.models import Trigger


def _create(admin_api, stage_id: int, **extra):
    response = admin_api.post(f"/api/v1/stages/{stage_id}/triggers", json={"kind": "inbound_webhook", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_signed_call_moves_deal_and_runs_robots(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"], name="ERP says proposal")
    assert trigger["url"] == f"http://testserver/hooks/triggers/{trigger['id']}"
    assert trigger["secret"].startswith("whsec_")
    assert "secret" not in admin_api.get(f"/api/v1/stages/{stages['Proposal']}/triggers").json()["items"][0]
    robot = add_comment_robot(admin_api, stages["Proposal"])
    deal = make_deal(runtime, pipeline, stages["New"])
    body = json.dumps({"deal_id": deal}).encode()
    response = admin_api.post(f"/hooks/triggers/{trigger['id']}", content=body,
                              headers=webhook_headers(trigger["secret"], body))
    assert response.status_code == 202
    [event] = settled(runtime, provider=f"webhook:{trigger['id']}")
    assert event.status == "processed" and stage_of(runtime, deal) == stages["Proposal"]
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Proposal stage's robot")


def test_target_form_and_duplicates_concurrently(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"])
    deal = make_deal(runtime, pipeline, stages["New"])
    body = json.dumps({"target": f"DEAL_{deal}"}).encode()
    headers = webhook_headers(trigger["secret"], body, msg_id="msg_same")
    url = f"/hooks/triggers/{trigger['id']}"
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda _: admin_api.post(url, content=body, headers=headers).status_code, range(10)))
    assert codes == [202] * 10
    assert len(settled(runtime, provider=f"webhook:{trigger['id']}")) == 1
    assert stage_of(runtime, deal) == stages["Proposal"] and entries(runtime, deal) == 2


def test_bad_signatures_tampering_and_timestamps_are_refused(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"])
    deal = make_deal(runtime, pipeline, stages["New"])
    url = f"/hooks/triggers/{trigger['id']}"
    body = json.dumps({"deal_id": deal}).encode()
    now = datetime.now(UTC)
    other_secret = "whsec_" + "A" * 32
    cases = {
        "wrong secret": (body, webhook_headers(other_secret, body)),
        "tampered body": (json.dumps({"deal_id": deal + 1}).encode(), webhook_headers(trigger["secret"], body)),
        "stale": (body, webhook_headers(trigger["secret"], body, at=now - timedelta(minutes=6))),
        "future": (body, webhook_headers(trigger["secret"], body, at=now + timedelta(minutes=6))),
        "no headers": (body, {}),
        "garbage signature": (body, {**webhook_headers(trigger["secret"], body), "webhook-signature": "v1"}),
    }
    for name, (payload, headers) in cases.items():
        response = admin_api.post(url, content=payload, headers=headers)
        assert response.status_code == 401, (name, response.text)
    assert events(runtime) == [] and stage_of(runtime, deal) == stages["New"]


def test_bad_bodies_unknown_trigger_and_size_cap(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"])
    url = f"/hooks/triggers/{trigger['id']}"
    for body in (b'{"deal": 1}', b'{"target": "DEAL_x"}', b"[1]", b"not json"):
        response = admin_api.post(url, content=body, headers=webhook_headers(trigger["secret"], body))
        assert response.status_code == 400, body
    body = b'{"deal_id": 1}'
    assert admin_api.post("/hooks/triggers/999999", content=body,
                          headers=webhook_headers(trigger["secret"], body)).status_code == 404
    huge = json.dumps({"deal_id": 1, "pad": "x" * 70_000}).encode()
    assert admin_api.post(url, content=huge, headers=webhook_headers(trigger["secret"], huge)).status_code == 413
    assert events(runtime) == []


def test_rotated_secret_keeps_the_previous_valid_for_a_day(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"], allow_backward=True)
    rotated = admin_api.post(f"/api/v1/triggers/{trigger['id']}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != trigger["secret"]
    url = f"/hooks/triggers/{trigger['id']}"
    first, second = make_deal(runtime, pipeline, stages["New"]), make_deal(runtime, pipeline, stages["New"])
    for deal, secret, msg in ((first, trigger["secret"], "m1"), (second, new_secret, "m2")):
        body = json.dumps({"deal_id": deal}).encode()
        assert admin_api.post(url, content=body, headers=webhook_headers(secret, body, msg)).status_code == 202
    settled(runtime, provider=f"webhook:{trigger['id']}")
    assert stage_of(runtime, first) == stage_of(runtime, second) == stages["Proposal"]
    with runtime.sessions() as s, s.begin():
        s.get(Trigger, trigger["id"]).previous_secret_expires_at = clock.now() - timedelta(seconds=1)
    body = json.dumps({"deal_id": first}).encode()
    assert admin_api.post(url, content=body, headers=webhook_headers(trigger["secret"], body, "m3")).status_code == 401


def test_deal_of_another_pipeline_or_missing_is_recorded(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"])
    url = f"/hooks/triggers/{trigger['id']}"
    body = json.dumps({"deal_id": 424242}).encode()
    assert admin_api.post(url, content=body, headers=webhook_headers(trigger["secret"], body)).status_code == 202
    [event] = settled(runtime, provider=f"webhook:{trigger['id']}")
    assert event.status == "ignored" and "not found" in event.outcome


def test_inactive_trigger_does_not_move(admin_api, runtime, pipeline, stages):
    trigger = _create(admin_api, stages["Proposal"], active=False)
    deal = make_deal(runtime, pipeline, stages["New"])
    body = json.dumps({"deal_id": deal}).encode()
    url = f"/hooks/triggers/{trigger['id']}"
    assert admin_api.post(url, content=body, headers=webhook_headers(trigger["secret"], body)).status_code == 202
    [event] = settled(runtime, provider=f"webhook:{trigger['id']}")
    assert event.status == "ignored" and stage_of(runtime, deal) == stages["New"]


def test_rate_limit_answers_429(admin_api, runtime, stages):
    trigger = _create(admin_api, stages["Proposal"])
    limiter = runtime.extras["triggers.limiter"]
    limiter.rate, limiter.burst = 0.001, 3
    codes = [admin_api.post(f"/hooks/triggers/{trigger['id']}", content=b"{}").status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]


def test_out_of_range_deal_id_is_a_bad_request(admin_api, runtime, stages):
    trigger = _create(admin_api, stages["Proposal"])
    for payload in ({"deal_id": 2**40}, {"target": f"DEAL_{2**40}"}, {"deal_id": True}, {"deal_id": -1}):
        body = json.dumps(payload).encode()
        response = admin_api.post(f"/hooks/triggers/{trigger['id']}", content=body,
                                  headers=webhook_headers(trigger["secret"], body))
        assert response.status_code == 400, payload
    assert events(runtime) == []
