"""With KANBAN_SMS_URL set, a robot's SMS is queued and delivered to the HTTP provider with its outbox key."""

from __future__ import annotations

import pytest

from kanban.delivery import deliver_sms
from kanban.models import SmsMessage
from tests.fake_http import serve


@pytest.fixture
def provider():
    with serve(lambda seen: (201, {"id": "SM-1"})) as server:
        yield server


@pytest.fixture
def settings_overrides(provider):
    return {"KANBAN_SMS_URL": provider.url + "/messages", "KANBAN_SMS_TOKEN": "tok"}


def test_robot_sms_reaches_the_provider(runtime, provider, stages, add_robot, new_deal, move, runs, run_all, rep):
    add_robot(stages["Qualified"], "ping", "sms_employee", settings={"text": "{{ deal.title }} is qualified"})
    deal_id = new_deal(title="Hooli", responsible_id=rep.id)
    move(deal_id, stages["Qualified"])
    run_all()
    [run] = runs(deal_id)
    assert run.status == "done", run.error
    assert provider.requests == []  # queued in the run's transaction, sent by the delivery loop
    assert deliver_sms(runtime.sessions, runtime.extras["services"]["sms"]) == 1
    [seen] = provider.requests
    row_id = run.outputs["message_id"]
    assert seen.json() == {"to": "+15550001", "text": "Hooli is qualified", "reference": f"sms-{row_id}"}
    assert seen.headers["idempotency-key"] == f"sms-{row_id}" and seen.headers["authorization"] == "Bearer tok"
    with runtime.sessions() as s:
        row = s.get(SmsMessage, row_id)
    assert (row.status, row.provider, row.provider_message_id, row.run_id) == ("sent", "http", "SM-1", run.id)
