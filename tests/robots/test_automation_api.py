"""Automations over HTTP: the JSON API (CRUD, actions, order, executions, deal runs) and the admin pages."""

from __future__ import annotations

from typing import Any

from tests.conftest import csrf_of, login, token_for

TAG = {"kind": "add_tag", "key": "tag", "settings": {"tags": ["Upsell opportunity"]}}
NOTE = {"kind": "add_comment", "key": "note", "settings": {"text": "Assigned to {{ responsible.name }}"}}


def _automation(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/automations", json={"name": "On creation", "event": "deal.created", **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_crud_actions_order_and_executions(admin_api, pipeline, run_all, admin):
    auto = _automation(admin_api, description="Tag new deals", pipeline_id=pipeline.id)
    assert (auto["active"], auto["owner_id"], auto["fields"], auto["triggered_by"]) == (True, admin.id, [], None)
    tag = admin_api.post(f"/api/v1/automations/{auto['id']}/actions", json=TAG)
    note = admin_api.post(f"/api/v1/automations/{auto['id']}/actions", json=NOTE)
    assert tag.status_code == 201 and note.status_code == 201, note.text
    assert note.json()["after_previous"] is True and note.json()["automation_id"] == auto["id"]
    assert note.json()["stage_id"] is None
    order = admin_api.put(f"/api/v1/automations/{auto['id']}/actions/order",
                          json={"ids": [note.json()["id"], tag.json()["id"]]})
    assert [a["key"] for a in order.json()["items"]] == ["note", "tag"]
    listed = admin_api.get(f"/api/v1/automations/{auto['id']}/actions").json()["items"]
    assert [a["key"] for a in listed] == ["note", "tag"]
    deal = admin_api.post("/api/v1/deals", json={"title": "Acme", "pipeline_id": pipeline.id,
                                                 "responsible_id": admin.id}).json()
    run_all()
    assert "Upsell opportunity" in admin_api.get(f"/api/v1/deals/{deal['id']}").json()["tags"]
    executions = admin_api.get(f"/api/v1/automations/{auto['id']}/executions").json()["items"]
    assert len(executions) == 1
    execution = executions[0]
    assert (execution["event"], execution["deal_id"], execution["status"]) == ("deal.created", deal["id"], "done")
    assert [(r["robot_key"], r["status"]) for r in execution["runs"]] == [("note", "done"), ("tag", "done")]
    runs = admin_api.get(f"/api/v1/deals/{deal['id']}/runs").json()["items"]
    assert {r["automation_id"] for r in runs} == {auto["id"]} and all(r["stage_entry_id"] is None for r in runs)
    timeline = admin_api.get(f"/api/v1/deals/{deal['id']}/timeline").json()["items"]
    assert any(t["kind"] == "comment" and t["text"] == "Assigned to Ada Admin" for t in timeline)
    patched = admin_api.patch(f"/api/v1/automations/{auto['id']}", json={"active": False, "name": "Off"})
    assert (patched.json()["active"], patched.json()["name"]) == (False, "Off")
    assert admin_api.get(f"/api/v1/automations/{auto['id']}").json()["name"] == "Off"
    assert admin_api.delete(f"/api/v1/automations/{auto['id']}").status_code == 204
    assert admin_api.get(f"/api/v1/automations/{auto['id']}").status_code == 404


def test_bad_input_is_422_with_fields_and_nothing_written(admin_api, pipeline):
    bad = admin_api.post("/api/v1/automations", json={"name": "", "event": "deal.exploded",
                                                      "triggered_by": {"user_ids": ["x"]}})
    assert bad.status_code == 422
    assert {"name", "event", "triggered_by.user_ids"} <= set(bad.json()["error"]["fields"])
    assert admin_api.get("/api/v1/automations").json()["items"] == []
    auto = _automation(admin_api)
    action = admin_api.post(f"/api/v1/automations/{auto['id']}/actions",
                            json={"kind": "add_comment", "settings": {"text": "{{ deal.nope }}"}})
    assert action.status_code == 422 and "settings.text" in action.json()["error"]["fields"]
    assert admin_api.get(f"/api/v1/automations/{auto['id']}/actions").json()["items"] == []
    tag = admin_api.post(f"/api/v1/automations/{auto['id']}/actions", json=TAG).json()
    refused = admin_api.post(f"/api/v1/robots/{tag['id']}/run-existing?dry_run=1")
    assert refused.status_code == 422 and "robot_id" in refused.json()["error"]["fields"]


def test_automations_are_admin_only(client, runtime, rep):
    client.headers["Authorization"] = f"Bearer {token_for(runtime, rep.email)}"
    assert client.get("/api/v1/automations").status_code == 403
    assert client.post("/api/v1/automations", json={"name": "x", "event": "deal.created"}).status_code == 403


def test_pages_build_an_automation_and_show_its_history(client, admin, pipeline, run_all):
    login(client, admin.email)
    token = csrf_of(client)
    form = {"csrf_token": token, "name": "Welcome", "description": "", "event": "deal.created",
            "pipeline_id": str(pipeline.id), "fields": "", "active": "on", "cond_mode": "all",
            "cond_field": "deal.title", "cond_op": "contains", "cond_value": "Acme"}
    saved = client.post("/automations", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    editor = saved.headers["location"]
    auto_id = int(editor.rsplit("/", 1)[1])
    page = client.get(f"/automations/{auto_id}/actions/new?kind=add_comment")
    assert page.status_code == 200 and "Placeholders" in page.text
    added = client.post(f"/automations/{auto_id}/actions", data={
        "csrf_token": token, "kind": "add_comment", "name": "Say hi", "key": "", "s.text": "Hi {{ deal.title }}",
        "after_previous": "on", "active": "on", "delay_type": "now", "cond_mode": "all"}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == editor
    listing = client.get("/automations")
    assert "Welcome" in listing.text and "deal.title contains Acme" in listing.text and "Add a comment" in listing.text
    from kanban.events import Actor
    from kanban.services.deals import create_deal

    runtime = client.app.state.runtime
    with runtime.sessions() as s, s.begin():
        acme = create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor.user(admin.id)).id
        create_deal(s, title="Globex", pipeline_id=pipeline.id, actor=Actor.user(admin.id))
    run_all()
    deal_page = client.get(f"/deals/{acme}").text
    assert "Automation “Welcome”" in deal_page and 'data-execution-id="' in deal_page
    history = client.get(f"/automations/{auto_id}/executions")
    assert history.text.count('class="execution ') == 1 and "deal.created" in history.text
    off = client.post(f"/automations/{auto_id}/toggle", data={"csrf_token": token}, follow_redirects=False)
    assert off.status_code == 303
    assert "(inactive)" in client.get("/automations").text
    invalid = client.post("/automations", data={**form, "name": "x" * 121})
    assert invalid.status_code == 422 and "at most 120" in invalid.text


def test_the_editor_offers_the_record_actions(client, admin, test_kinds):
    from robots import automations

    login(client, admin.email)
    token = csrf_of(client)
    runtime = client.app.state.runtime
    with runtime.sessions() as s, s.begin():
        auto_id = automations.create_automation(s, {"name": "Calls", "event": "activity.created"},
                                                owner_id=admin.id).id
    for kind in ("update_activity", "delete_activity", "delete_person", "delete_deal", "create_organization",
                 "update_organization"):
        page = client.get(f"/automations/{auto_id}/actions/new?kind={kind}")
        assert page.status_code == 200 and "Placeholders" in page.text, kind
    added = client.post(f"/automations/{auto_id}/actions", data={
        "csrf_token": token, "kind": "update_activity", "name": "Plan it", "key": "", "s.activity": "",
        "s.fields.name": ["subject"], "s.fields.value": ["{{ event.new.subject }}!"], "s.mark": "done",
        "after_previous": "on", "active": "on", "delay_type": "now", "cond_mode": "all"}, follow_redirects=False)
    assert added.status_code == 303, added.text
    with runtime.sessions() as s:
        [action] = automations.actions(s, auto_id)
    assert action.settings == {"activity": "", "fields": {"subject": "{{ event.new.subject }}!"}, "mark": "done"}
    refused = client.post(f"/automations/{auto_id}/actions", data={
        "csrf_token": token, "kind": "update_activity", "name": "Nothing", "key": "", "s.mark": "unchanged",
        "after_previous": "on", "active": "on", "delay_type": "now", "cond_mode": "all"})
    assert refused.status_code == 422 and "give fields to change" in refused.text
