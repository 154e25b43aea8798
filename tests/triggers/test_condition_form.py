"""The trigger form's condition editor: lists for "in", nested groups kept as JSON, bad JSON is a form error."""

from __future__ import annotations

import html

from tests.conftest import csrf_of, login
from triggers.models import Trigger

NESTED = {"all": [{"field": "deal.amount", "op": ">", "value": 10},
                  {"any": [{"field": "deal.tags", "op": "contains", "value": "vip"},
                           {"field": "contact.email", "op": "empty"}]}]}


def _condition(runtime, trigger_id):
    with runtime.sessions() as s:
        return s.get(Trigger, trigger_id).condition


def test_in_lists_and_value_free_operators_round_trip(client, runtime, admin, stages):
    login(client, admin.email)
    data = {"csrf_token": csrf_of(client), "kind": "invoice_paid", "name": "Paid", "active": "on",
            "cond_mode": "all", "cond_field": ["deal.tags", "contact.email"], "cond_op": ["in", "empty"],
            "cond_value": ["vip, eu", ""]}
    saved = client.post(f"/automation/stages/{stages['Won']}/triggers", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    with runtime.sessions() as s:
        trigger = s.query(Trigger).one()
    assert trigger.condition == {"all": [{"field": "deal.tags", "op": "in", "value": ["vip", "eu"]},
                                         {"field": "contact.email", "op": "empty"}]}
    edit = client.get(f"/automation/triggers/{trigger.id}")
    assert 'value="vip, eu"' in edit.text


def test_nested_groups_survive_the_form_and_bad_json_is_a_form_error(client, runtime, admin, admin_api, stages):
    created = admin_api.post(f"/api/v1/stages/{stages['Won']}/triggers",
                             json={"kind": "invoice_paid", "condition": NESTED})
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    login(client, admin.email)
    edit = client.get(f"/automation/triggers/{tid}")
    assert 'name="condition_json"' in edit.text
    json_text = edit.text.split('name="condition_json"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    token = csrf_of(client)
    data = {"csrf_token": token, "name": "Renamed", "active": "on", "cond_mode": "all",
            "condition_json": html.unescape(json_text)}
    saved = client.post(f"/automation/triggers/{tid}", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert _condition(runtime, tid) == NESTED
    bad = client.post(f"/automation/triggers/{tid}", data={**data, "condition_json": "{nope"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    assert _condition(runtime, tid) == NESTED


def test_form_shows_operators_in_words_shares_the_robot_style_and_the_webhook_url(client, admin, admin_api,
                                                                                  stages):
    created = admin_api.post(f"/api/v1/stages/{stages['Won']}/triggers",
                             json={"kind": "inbound_webhook", "name": "Signed",
                                   "condition": {"all": [{"field": "deal.amount", "op": "not_empty"}]}})
    assert created.status_code == 201, created.text
    login(client, admin.email)
    edit = client.get(f"/automation/triggers/{created.json()['id']}").text
    assert 'class="robot-edit"' in edit and 'class="check"><input type="checkbox" name="active"' in edit
    assert '<option value="not_empty" selected>is not empty</option>' in edit
    assert ">not_empty<" not in edit and '<option value="=" >=</option>' not in edit
    assert f'value="{created.json()["url"]}" readonly' in edit  # no secret rotation needed to see it
    assert created.json()["secret"] not in edit
    view = client.get("/automation").text
    assert f">{created.json()['url']}</code>" in view and "if amount is set" in view
