"""Issue 12 item 5 (triggers): trigger order is editable (API and the automation view), and a trigger that
closes a loop of unconditional automatic moves is warned about when saved."""

from __future__ import annotations

from typing import Any

from tests.conftest import csrf_of, login
from tests.triggers.conftest import add_trigger, make_deal, stage_of


def _order(api: Any, stage: int) -> list[int]:
    return [t["id"] for t in api.get(f"/api/v1/stages/{stage}/triggers").json()["items"]]


def test_trigger_order_via_api_decides_which_trigger_of_a_stage_wins(admin_api, runtime, pipeline, stages):
    stage = stages["Proposal"]
    a, _ = add_trigger(runtime, stage, "field_changed", settings={"field": "amount"}, name="A")
    b, _ = add_trigger(runtime, stage, "field_changed", settings={"field": "amount"}, name="B")
    assert _order(admin_api, stage) == [a, b]
    response = admin_api.put(f"/api/v1/stages/{stage}/triggers/order", json={"ids": [b, a]})
    assert response.status_code == 200, response.text
    assert [t["position"] for t in response.json()["items"]] == [0, 1]
    assert _order(admin_api, stage) == [b, a]
    deal = make_deal(runtime, pipeline, stages["New"])
    admin_api.patch(f"/api/v1/deals/{deal}", json={"amount": 5})
    assert stage_of(runtime, deal) == stage
    timeline = admin_api.get(f"/api/v1/deals/{deal}/timeline").json()["items"]
    assert any("Trigger “B” fired" in e["text"] for e in timeline)
    bad = admin_api.put(f"/api/v1/stages/{stage}/triggers/order", json={"ids": [a]})
    assert bad.status_code == 422 and "ids" in bad.json()["error"]["fields"]
    assert admin_api.put(f"/api/v1/stages/{stage}/triggers/order", json={"ids": [a, "b"]}).status_code in (400, 422)


def test_trigger_order_up_and_down_in_the_automation_view(client, runtime, admin, pipeline, stages):
    stage = stages["Proposal"]
    a, _ = add_trigger(runtime, stage, "field_changed", settings={"field": "amount"}, name="A")
    b, _ = add_trigger(runtime, stage, "field_changed", settings={"field": "title"}, name="B")
    login(client, admin.email)
    page = client.get(f"/automation?pipeline_id={pipeline.id}")
    assert f'action="/automation/triggers/{b}/up"' in page.text
    csrf = csrf_of(client, f"/automation?pipeline_id={pipeline.id}")
    moved = client.post(f"/automation/triggers/{b}/up", data={"csrf_token": csrf}, follow_redirects=False)
    assert moved.status_code == 303
    from triggers import config

    with runtime.sessions() as s:
        assert [t.id for t in config.list_triggers(s, stage)] == [b, a]
    client.post(f"/automation/triggers/{b}/down", data={"csrf_token": csrf}, follow_redirects=False)
    with runtime.sessions() as s:
        assert [t.id for t in config.list_triggers(s, stage)] == [a, b]


def test_saving_a_trigger_that_closes_a_loop_warns(admin_api, stages):
    robot = admin_api.post(f"/api/v1/stages/{stages['Proposal']}/robots",
                           json={"kind": "change_stage", "settings": {"stage_id": stages["Qualified"]},
                                 "name": "Back to Qualified"})
    assert robot.status_code == 201, robot.text
    created = admin_api.post(f"/api/v1/stages/{stages['Proposal']}/triggers",
                             json={"kind": "field_changed", "name": "Amount set", "settings": {"field": "amount"}})
    assert created.status_code == 201, created.text
    [warning] = created.json()["warnings"]
    assert "closes a loop" in warning
    assert "Proposal → Qualified (robot “Back to Qualified”)" in warning
    assert "Qualified → Proposal (this trigger)" in warning
    # A condition breaks the loop: no warning.
    tid = created.json()["id"]
    conditional = admin_api.patch(f"/api/v1/triggers/{tid}",
                                  json={"condition": {"all": [{"field": "deal.amount", "op": ">", "value": 5}]}})
    assert conditional.status_code == 200 and conditional.json()["warnings"] == []
    # A trigger whose stage no robot leaves is fine.
    quiet = admin_api.post(f"/api/v1/stages/{stages['Invoice']}/triggers",
                           json={"kind": "field_changed", "settings": {"field": "title"}})
    assert quiet.json()["warnings"] == []


def test_loop_warning_is_shown_in_the_automation_view(client, runtime, admin, pipeline, stages, admin_api):
    admin_api.post(f"/api/v1/stages/{stages['Proposal']}/robots",
                   json={"kind": "change_stage", "settings": {"stage_id": stages["New"]}, "name": "Reset"})
    login(client, admin.email)
    csrf = csrf_of(client, f"/automation?pipeline_id={pipeline.id}")
    form = client.get(f"/automation/stages/{stages['Proposal']}/triggers/new?kind=field_changed")
    assert form.status_code == 200
    saved = client.post(f"/automation/stages/{stages['Proposal']}/triggers",
                        data={"csrf_token": csrf, "kind": "field_changed", "name": "Loopy",
                              "settings.field": "amount", "active": "on"},
                        follow_redirects=True)
    assert saved.status_code == 200, saved.text[:2000]
    assert "closes a loop" in saved.text
