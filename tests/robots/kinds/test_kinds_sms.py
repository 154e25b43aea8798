"""sms_employee: logged by default, 200-character limit after rendering, phone numbers required."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban.models import SmsMessage
from robots.errors import PermanentError


def _sms(kit):
    with kit.runtime.sessions() as s:
        return list(s.scalars(select(SmsMessage).order_by(SmsMessage.id)))


def test_sms_to_the_responsible_is_logged(kit, people):
    out = kit.run("sms_employee", {"text": "Call {{ contact.name }} now: {{ deal.title }}"})
    [sms] = _sms(kit)
    assert out == {"message_id": sms.id, "message_ids": [sms.id]}
    assert (sms.to_phone, sms.text, sms.status, sms.provider) == ("+15550001", "Call Carla Client now: Acme renewal",
                                                                  "logged", "log")
    assert sms.provider_message_id == f"log-{sms.id}" and sms.run_id == kit.last_run_id


def test_sms_limit_applies_after_rendering(kit, admin):
    from kanban.events import Actor
    from kanban.services.deals import update_deal

    kit.run("sms_employee", {"text": "x" * 188 + "{{ deal.title }}"})  # 188 + 12 = 200: allowed
    with kit.runtime.sessions() as s, s.begin():
        update_deal(s, kit.deal_id, {"title": "Acme renewals"}, actor=Actor.user(admin.id))
    with pytest.raises(PermanentError, match="201 characters"):
        kit.run("sms_employee", {"text": "x" * 188 + "{{ deal.title }}"})
    assert [len(m.text) for m in _sms(kit)] == [200]


def test_sms_to_someone_without_phone_fails_permanently(kit, people):
    with pytest.raises(PermanentError, match="no phone number for Ada Admin"):
        kit.run("sms_employee", {"text": "hi", "to": [{"type": "user", "id": people["admin"].id}]})
    assert _sms(kit) == []


@pytest.fixture
def sms_http(kit):
    """The HTTP provider (not called here: rows wait in the outbox for the delivery loop)."""
    from kanban.outbound import Http
    from kanban.sms import HttpSmsProvider

    http = Http()
    kit.services = {**kit.runtime.extras["services"], "sms": HttpSmsProvider("http://127.0.0.1:9/sms", "t", http)}
    yield kit
    http.close()


def test_sms_with_http_provider_is_queued(sms_http, people):
    sms_http.run("sms_employee", {"text": "hi", "to": [{"type": "supervisor"}, {"type": "responsible"}]})
    rows = _sms(sms_http)
    assert [(r.status, r.provider, r.provider_message_id) for r in rows] == [("queued", "http", None)] * 2
    assert sorted(r.to_phone for r in rows) == ["+15550001", "+15550009"]
