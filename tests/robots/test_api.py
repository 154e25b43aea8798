"""Robots JSON API: kinds, CRUD, order, runs, retry, run-for-existing, roles."""

from __future__ import annotations

from typing import Any

from tests.robots.conftest import FAILURES

NOTE = {"text": "Hello {{ deal.title }}", "recipients": [{"type": "responsible"}]}
CHAT = {"name": "Deal {{ deal.title }}",
        "members": [{"type": "role", "role": "admin"}, {"type": "role", "role": "rep"}]}
MESSAGE = {"chat": "{{ robots.chat.chat_id }}", "text": "Hi {{ deal.title }}", "message_type": "important"}


def add(api: Any, stage_id: int, **body: Any) -> Any:
    return api.post(f"/api/v1/stages/{stage_id}/robots", json=body)


def test_kinds_list_schema_outputs_and_category(admin_api):
    body = admin_api.get("/api/v1/robot-kinds").json()
    kinds = {k["kind"]: k for k in body["items"]}
    assert {"notify", "create_group_chat", "send_chat_message", "change_stage"} <= set(kinds)
    chat = kinds["create_group_chat"]
    assert chat["outputs"] == ["chat_id"] and chat["category"] and chat["title"]
    assert set(chat["settings_schema"]["properties"]) == {"name", "members"}
    assert chat["templates"] == {"name": "text"}
    assert body["next"] is None


def test_crud_and_roles(client, admin_api, runtime, pipeline, rep):
    from tests.conftest import token_for

    stage = pipeline.stages[0].id
    created = add(admin_api, stage, kind="notify", settings=NOTE, delay={"type": "after", "seconds": 60})
    assert created.status_code == 201, created.text
    robot = created.json()
    assert (robot["key"], robot["position"], robot["warnings"]) == ("notify_1", 0, [])
    assert robot["settings"]["recipients"][0]["type"] == "responsible"
    listed = admin_api.get(f"/api/v1/stages/{stage}/robots").json()["items"]
    assert [r["id"] for r in listed] == [robot["id"]]
    patched = admin_api.patch(f"/api/v1/robots/{robot['id']}", json={"name": "Ping", "active": False})
    assert patched.status_code == 200 and (patched.json()["name"], patched.json()["active"]) == ("Ping", False)
    rep_headers = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    assert client.post(f"/api/v1/stages/{stage}/robots", json={"kind": "notify", "settings": NOTE},
                       headers=rep_headers).status_code == 403
    assert client.delete(f"/api/v1/robots/{robot['id']}", headers=rep_headers).status_code == 403
    # Issue 8, vulnerability 5: robot settings hold webhook URLs and provider keys, so reps read no robots.
    assert client.get(f"/api/v1/stages/{stage}/robots", headers=rep_headers).status_code == 403
    assert client.get(f"/api/v1/robots/{robot['id']}", headers=rep_headers).status_code == 403
    assert client.get("/api/v1/robot-kinds", headers=rep_headers).status_code == 200
    assert client.get("/api/v1/robot-kinds", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert admin_api.delete(f"/api/v1/robots/{robot['id']}").status_code == 204
    assert admin_api.delete(f"/api/v1/robots/{robot['id']}").status_code == 404
    assert add(admin_api, 999999, kind="notify", settings=NOTE).status_code == 404


def test_validation_errors_are_422_with_fields(admin_api, pipeline):
    stage = pipeline.stages[0].id
    bad = add(admin_api, stage, kind="notify", settings={"recipients": []})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert "settings.text" in bad.json()["error"]["fields"]
    unknown = add(admin_api, stage, kind="notify", settings={**NOTE, "text": "{{ deal.secret_sauce }}"})
    assert unknown.status_code == 422 and "settings.text" in unknown.json()["error"]["fields"]
    assert add(admin_api, stage, kind="create_group_chat", key="chat", settings=CHAT).status_code == 201
    not_chained = add(admin_api, stage, kind="send_chat_message", settings=MESSAGE)
    assert not_chained.status_code == 422
    assert "after previous" in not_chained.json()["error"]["fields"]["settings.chat"]
    wrong_output = add(admin_api, stage, kind="send_chat_message", after_previous=True,
                       settings={**MESSAGE, "chat": "{{ robots.chat.id }}"})
    assert "no output" in wrong_output.json()["error"]["fields"]["settings.chat"]
    assert add(admin_api, stage, kind="send_chat_message", after_previous=True, settings=MESSAGE).status_code == 201
    malformed = admin_api.post(f"/api/v1/stages/{stage}/robots", content=b"{nope",
                               headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert add(admin_api, stage, kind="notify", settings=NOTE, colour="red").status_code == 422


def test_webhook_url_with_an_invalid_port_is_refused_at_save_time(admin_api, pipeline):
    stage = pipeline.stages[0].id
    bad = add(admin_api, stage, kind="webhook", settings={"url": "https://hooks.example:99999/in"})
    assert bad.status_code == 422, bad.text
    assert "Port out of range" in bad.json()["error"]["fields"]["settings.url"]
    assert admin_api.get(f"/api/v1/stages/{stage}/robots").json()["items"] == []
    assert add(admin_api, stage, kind="webhook", settings={"url": "https://hooks.example:8443/in"}).status_code == 201


def test_order_endpoint_refuses_broken_references(admin_api, pipeline):
    stage = pipeline.stages[0].id
    chat = add(admin_api, stage, kind="create_group_chat", key="chat", settings=CHAT).json()
    msg = add(admin_api, stage, kind="send_chat_message", after_previous=True, settings=MESSAGE).json()
    note = add(admin_api, stage, kind="notify", settings=NOTE).json()
    refused = admin_api.put(f"/api/v1/stages/{stage}/robots/order", json={"ids": [msg["id"], chat["id"], note["id"]]})
    assert refused.status_code == 422 and "ids" in refused.json()["error"]["fields"]
    ok = admin_api.put(f"/api/v1/stages/{stage}/robots/order", json={"ids": [note["id"], chat["id"], msg["id"]]})
    assert ok.status_code == 200
    assert [r["id"] for r in ok.json()["items"]] == [note["id"], chat["id"], msg["id"]]
    assert [r["position"] for r in ok.json()["items"]] == [0, 1, 2]


def test_cycle_warning_in_response(admin_api, pipeline):
    new, qualified = pipeline.stages[0].id, pipeline.stages[1].id
    assert add(admin_api, qualified, kind="change_stage", settings={"stage_id": new}).json()["warnings"] == []
    looping = add(admin_api, new, kind="change_stage", settings={"stage_id": qualified})
    assert looping.status_code == 201
    assert "loop" in looping.json()["warnings"][0]


def wait_runs(api: Any, run_all: Any, deal_id: int) -> list[dict[str, Any]]:
    run_all()
    return api.get(f"/api/v1/deals/{deal_id}/runs").json()["items"]


def test_runs_chain_and_retry(admin_api, pipeline, run_all, test_kinds, admin, rep):
    stage = pipeline.stages[1].id
    chat = add(admin_api, stage, kind="create_group_chat", key="chat", settings=CHAT).json()
    add(admin_api, stage, kind="send_chat_message", after_previous=True, settings=MESSAGE)
    echo = add(admin_api, stage, kind="test_echo", settings={"marker": "boom"}).json()
    FAILURES["boom"] = ["permanent"]
    deal = admin_api.post("/api/v1/deals", json={"title": "Acme", "pipeline_id": pipeline.id, "stage_id": stage,
                                                 "responsible_id": admin.id}).json()
    items = wait_runs(admin_api, run_all, deal["id"])
    by_robot = {r["robot_id"]: r for r in items}
    assert by_robot[chat["id"]]["status"] == "done" and "chat_id" in by_robot[chat["id"]]["outputs"]
    assert sorted(r["status"] for r in items) == ["done", "done", "failed"]
    failed = by_robot[echo["id"]]
    assert failed["error"] and failed["robot_name"] == echo["name"] and failed["stage_entry_id"]
    done = by_robot[chat["id"]]
    assert admin_api.post(f"/api/v1/runs/{done['id']}/retry").status_code == 409
    assert admin_api.post("/api/v1/runs/999999/retry").status_code == 404
    retried = admin_api.post(f"/api/v1/runs/{failed['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "scheduled"
    items = wait_runs(admin_api, run_all, deal["id"])
    assert {r["robot_id"]: r["status"] for r in items}[echo["id"]] == "done"
    chat_id = by_robot[chat["id"]]["outputs"]["chat_id"]
    messages = admin_api.get(f"/api/v1/chats/{chat_id}/messages").json()["items"]
    assert [(m["text"], m["message_type"]) for m in messages] == [("Hi Acme", "important")]


def test_retry_is_admin_only(client, runtime, rep, pipeline):
    from tests.conftest import token_for

    headers = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    assert client.post("/api/v1/runs/1/retry", headers=headers).status_code == 403


def test_run_existing_preview_then_schedule(admin_api, pipeline, run_all, admin):
    stage = pipeline.stages[2].id
    deal = admin_api.post("/api/v1/deals", json={"title": "Old", "pipeline_id": pipeline.id, "stage_id": stage,
                                                 "responsible_id": admin.id}).json()
    robot = add(admin_api, stage, kind="notify", settings=NOTE).json()
    assert wait_runs(admin_api, run_all, deal["id"]) == []  # added later: not run for deals already there
    preview = admin_api.post(f"/api/v1/robots/{robot['id']}/run-existing?dry_run=1")
    assert preview.status_code == 200 and preview.json() == {"count": 1, "dry_run": True}
    assert admin_api.post(f"/api/v1/robots/{robot['id']}/run-existing").json()["count"] == 1
    items = wait_runs(admin_api, run_all, deal["id"])
    assert [r["status"] for r in items] == ["done"]
    assert admin_api.post(f"/api/v1/robots/{robot['id']}/run-existing?dry_run=1").json()["count"] == 0
    assert admin_api.post(f"/api/v1/robots/{robot['id']}/run-existing?dry_run=maybe").status_code == 400
