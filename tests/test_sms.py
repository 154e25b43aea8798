"""SMS delivery through the HTTP provider against a local server: body, bearer token, Idempotency-Key, retries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kanban import clock
from kanban.delivery import deliver_sms
from kanban.models import SmsMessage
from kanban.outbound import Http, OutboundError
from kanban.sms import HttpSmsProvider, LogSmsProvider, make_sms_provider
from tests.fake_http import serve


@pytest.fixture
def provider_server():
    replies = []

    def respond(seen):
        return replies.pop(0) if replies else (200, {"id": f"prov-{len(server.requests)}"})

    with serve(respond) as server:
        server.replies = replies
        yield server


@pytest.fixture
def settings_overrides(provider_server):
    return {"KANBAN_SMS_URL": provider_server.url + "/v1/sms", "KANBAN_SMS_TOKEN": "sms-token"}


def _queue(runtime, text="Call Carla now"):
    with runtime.sessions() as s, s.begin():
        row = SmsMessage(to_phone="+15550001", text=text, status="queued", provider="http")
        s.add(row)
        s.flush()
        return row.id


def _row(runtime, row_id):
    with runtime.sessions() as s:
        return s.get(SmsMessage, row_id)


def test_provider_choice():
    http = Http()
    assert isinstance(make_sms_provider(None, None, http), LogSmsProvider)
    assert isinstance(make_sms_provider("http://x/sms", "t", http), HttpSmsProvider)
    assert LogSmsProvider().initial_status() == "logged"
    http.close()


def test_http_provider_delivers_with_token_and_idempotency_key(runtime, provider_server):
    provider = runtime.extras["services"]["sms"]
    assert provider.delivers and any(fn.__name__ == "sms_delivery_loop" for fn in runtime.background)
    row_id = _queue(runtime)
    assert deliver_sms(runtime.sessions, provider) == 1
    [seen] = provider_server.requests
    assert seen.path == "/v1/sms" and seen.headers["authorization"] == "Bearer sms-token"
    assert seen.headers["idempotency-key"] == f"sms-{row_id}"
    assert seen.json() == {"to": "+15550001", "text": "Call Carla now", "reference": f"sms-{row_id}"}
    row = _row(runtime, row_id)
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "prov-1", 1)


def test_5xx_is_retried_with_the_same_idempotency_key(runtime, provider_server):
    provider = runtime.extras["services"]["sms"]
    provider_server.replies.append((503, {"error": "down"}))
    row_id = _queue(runtime)
    deliver_sms(runtime.sessions, provider)
    row = _row(runtime, row_id)
    assert row.status == "queued" and "503" in row.error and row.next_attempt_at > clock.now()
    with runtime.sessions() as s, s.begin():
        s.get(SmsMessage, row_id).next_attempt_at = clock.now() - timedelta(seconds=1)
    deliver_sms(runtime.sessions, provider)
    assert _row(runtime, row_id).status == "sent"
    keys = [r.headers["idempotency-key"] for r in provider_server.requests]
    assert keys == [f"sms-{row_id}", f"sms-{row_id}"]


def test_4xx_fails_without_retry(runtime, provider_server):
    provider_server.replies.append((422, {"error": "bad number"}))
    row_id = _queue(runtime)
    deliver_sms(runtime.sessions, runtime.extras["services"]["sms"])
    row = _row(runtime, row_id)
    assert row.status == "failed" and "422" in row.error


def test_the_limit_is_enforced_at_the_edge_too(provider_server):
    http = Http()
    provider = HttpSmsProvider(provider_server.url, None, http)
    with pytest.raises(OutboundError, match="201 characters"):
        provider.send(SmsMessage(id=1, to_phone="+1", text="x" * 201))
    http.close()
    assert provider_server.requests == []
