"""Automations as code and their versions over the API: export (no ids, no secrets), round trip, dry-run diff,
apply, validation paths, YAML, copy to another pipeline, history, restore, runs' version."""

from __future__ import annotations

import copy
import html
import json
from typing import Any

import yaml

from kanban.services.pipelines import create_pipeline
from tests.conftest import login, token_for

BASE = "/api/v1/pipelines/{}/automation"


def _stage(pipeline: Any, name: str) -> int:
    return next(s.id for s in pipeline.stages if s.name == name)


def _setup(api: Any, pipeline: Any, admin: Any) -> None:
    new, qualified, won = _stage(pipeline, "New"), _stage(pipeline, "Qualified"), _stage(pipeline, "Won")
    for stage_id, body in [
        (new, {"kind": "add_comment", "key": "note", "settings": {"text": "Hello {{ deal.title }}"}}),
        (new, {"kind": "notify", "key": "ping", "settings": {"text": "New deal",
                                                             "recipients": [{"type": "user", "id": admin.id}]}}),
        (qualified, {"kind": "change_stage", "key": "win", "settings": {"stage_id": won},
                     "delay": {"type": "after", "seconds": 3600}}),
    ]:
        response = api.post(f"/api/v1/stages/{stage_id}/robots", json=body)
        assert response.status_code == 201, response.text
    hook = api.post(f"/api/v1/stages/{won}/triggers", json={"kind": "inbound_webhook", "name": "Signed",
                                                           "move_as_id": admin.id})
    assert hook.status_code == 201, hook.text
    auto = api.post("/api/v1/automations", json={"name": "Tag new", "event": "deal.created",
                                                 "pipeline_id": pipeline.id}).json()
    action = api.post(f"/api/v1/automations/{auto['id']}/actions",
                      json={"kind": "add_tag", "key": "tag", "settings": {"tags": ["fresh"]}})
    assert action.status_code == 201, action.text


def _ids_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if k == "id" or k.endswith("_id")] + [x for v in value.values() for x in _ids_in(v)]
    if isinstance(value, list):
        return [x for v in value for x in _ids_in(v)]
    return []


def test_export_has_stable_keys_no_ids_and_no_secrets(admin_api, pipeline, admin):
    _setup(admin_api, pipeline, admin)
    doc = admin_api.get(BASE.format(pipeline.id)).json()
    assert doc["pipeline"] == "Sales" and [s["name"] for s in doc["stages"]][:3] == ["New", "Qualified", "Proposal"]
    assert _ids_in(doc) == []
    assert "whsec_" not in json.dumps(doc)
    new = doc["stages"][0]
    assert [r["key"] for r in new["robots"]] == ["note", "ping"]
    assert new["robots"][1]["settings"]["recipients"] == [{"type": "user", "user": admin.email}]
    assert doc["stages"][1]["robots"][0]["settings"] == {"stage": "Won"}
    assert doc["stages"][4]["triggers"][0] == {"key": "inbound_webhook_1", "kind": "inbound_webhook",
                                               "name": "Signed", "settings": {}, "condition": None,
                                               "allow_backward": False, "move_as": admin.email, "active": True}
    assert doc["automations"][0]["name"] == "Tag new" and doc["automations"][0]["robots"][0]["key"] == "tag"
    text = admin_api.get(BASE.format(pipeline.id) + "?format=yaml")
    assert text.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(text.text) == doc
    assert admin_api.get(BASE.format(pipeline.id) + "?format=xml").status_code == 400
    assert admin_api.get(BASE.format(pipeline.id) + "?formt=yaml").status_code == 400


def test_round_trip_dry_run_apply_and_history(admin_api, pipeline, admin):
    _setup(admin_api, pipeline, admin)
    url = BASE.format(pipeline.id)
    doc = admin_api.get(url).json()
    same = admin_api.put(url, content=yaml.safe_dump(doc), headers={"content-type": "application/yaml"})
    assert same.status_code == 200, same.text
    assert (same.json()["added"], same.json()["changed"], same.json()["removed"]) == ([], [], [])
    assert admin_api.get(url).json() == doc
    edited = copy.deepcopy(doc)
    edited["stages"][0]["robots"][0]["settings"]["text"] = "Welcome {{ deal.title }}"
    del edited["stages"][0]["robots"][1]
    edited["stages"][2]["robots"].append({"kind": "add_tag", "key": "hot", "settings": {"tags": ["hot"]}})
    dry = admin_api.put(url + "?dry_run=1", json=edited)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert [(c["stage"], c["key"]) for c in body["added"]] == [("Proposal", "hot")]
    assert [(c["stage"], c["key"], [f["field"] for f in c["fields"]]) for c in body["changed"]] == [
        ("New", "note", ["settings.text"])]
    assert [(c["stage"], c["key"]) for c in body["removed"]] == [("New", "ping")]
    assert admin_api.get(url).json() == doc  # a dry run changes nothing
    history_before = admin_api.get(url + "/history").json()["items"]
    applied = admin_api.put(url, json=edited)
    assert applied.status_code == 200 and applied.json()["dry_run"] is False
    after = admin_api.get(url).json()
    assert after["stages"][0]["robots"][0]["settings"]["text"] == "Welcome {{ deal.title }}"
    again = admin_api.put(url, json=after).json()  # exporting right after importing gives the same document
    assert (again["added"], again["changed"], again["removed"]) == ([], [], [])
    assert admin_api.get(url).json() == after
    history = admin_api.get(url + "/history").json()["items"]
    assert len(history) == len(history_before) + 1
    top = history[0]
    assert top["version"] == applied.json()["version"] and top["user_id"] == admin.id
    assert [c["key"] for c in top["changes"]["removed"]] == ["ping"]


def test_every_save_makes_a_version_and_restore_brings_an_old_one_back(admin_api, pipeline, admin):
    url = BASE.format(pipeline.id)
    new = _stage(pipeline, "New")
    robot = admin_api.post(f"/api/v1/stages/{new}/robots", json={"kind": "add_comment", "key": "note",
                                                                 "settings": {"text": "one"}}).json()
    admin_api.patch(f"/api/v1/robots/{robot['id']}", json={"settings": {"text": "two"}})
    history = admin_api.get(url + "/history").json()["items"]
    # Version 1 is the (empty) configuration as it was before the first recorded save.
    assert [v["version"] for v in history] == [3, 2, 1]
    assert history[0]["changes"]["changed"][0]["fields"] == [
        {"field": "settings.text", "before": "one", "after": "two"}]
    assert history[1]["changes"]["added"][0]["key"] == "note" and history[2]["source"] == "baseline"
    one = admin_api.get(url + "/history/2").json()
    assert one["document"]["stages"][0]["robots"][0]["settings"]["text"] == "one"
    dry = admin_api.post(url + "/history/2/restore?dry_run=1")
    assert dry.status_code == 200 and dry.json()["changed"][0]["key"] == "note"
    restored = admin_api.post(url + "/history/2/restore")
    assert restored.status_code == 200, restored.text
    assert admin_api.get(f"/api/v1/robots/{robot['id']}").json()["settings"]["text"] == "one"  # same robot
    top = admin_api.get(url + "/history").json()["items"][0]
    assert (top["version"], top["source"]) == (4, "restore of v2")
    admin_api.delete(f"/api/v1/robots/{robot['id']}")
    assert admin_api.get(url + "/history").json()["items"][0]["changes"]["removed"][0]["key"] == "note"
    assert admin_api.post(url + "/history/99/restore").status_code == 404


def test_validation_errors_name_the_document_path_and_write_nothing(admin_api, pipeline, admin):
    _setup(admin_api, pipeline, admin)
    url = BASE.format(pipeline.id)
    doc = admin_api.get(url).json()
    bad = copy.deepcopy(doc)
    bad["stages"][1]["robots"][0]["settings"]["stage"] = "Nowhere"
    bad["stages"][0]["robots"][0]["settings"]["text"] = "{{ robots.ghost.chat_id }}"
    bad["stages"][4]["triggers"][0]["move_as"] = "nobody@example.com"
    bad["stages"].append({"name": "Elsewhere"})
    bad["automations"][0]["event"] = "deal.exploded"
    response = admin_api.put(url, json=bad)
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"stages[6].name"}  # the stage list is checked first
    del bad["stages"][6]
    fields = admin_api.put(url, json=bad).json()["error"]["fields"]
    assert {"stages[1].robots[0].settings.stage", "stages[0].robots[0].settings.text",
            "stages[4].triggers[0].move_as", "automations[0].event"} <= set(fields), fields
    assert admin_api.get(url).json() == doc
    broken = admin_api.put(url, content="stages: [", headers={"content-type": "application/yaml"})
    assert broken.status_code == 422 and "line" in broken.json()["error"]["message"]
    bomb = admin_api.put(url, content="a: &x [1, 2]\nb: [*x, *x]\n", headers={"content-type": "application/yaml"})
    assert bomb.status_code == 422 and "aliases" in bomb.json()["error"]["message"]
    assert admin_api.put(url + "?dry_run=maybe", json=doc).status_code == 400
    assert admin_api.put(url + "?dryrun=1", json=doc).status_code == 400


def test_copy_to_another_pipeline_matches_stages_by_name(admin_api, runtime, pipeline, admin):
    _setup(admin_api, pipeline, admin)
    with runtime.sessions() as s, s.begin():
        other = create_pipeline(s, "Sales 2", [{"name": n} for n in ("New", "Qualified", "Proposal", "Invoice")]
                                + [{"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]).id
    url = f"/api/v1/pipelines/{pipeline.id}/automation/copy"
    dry = admin_api.post(url + "?dry_run=1", json={"target_pipeline_id": other})
    assert dry.status_code == 200, dry.text
    assert len(dry.json()["added"]) == 5 and admin_api.get(BASE.format(other)).json()["automations"] == []
    assert admin_api.post(url, json={"target_pipeline_id": other}).status_code == 200
    source, target = admin_api.get(BASE.format(pipeline.id)).json(), admin_api.get(BASE.format(other)).json()
    assert {**target, "pipeline": "Sales"} == source
    with runtime.sessions() as s, s.begin():
        lone = create_pipeline(s, "Tiny", [{"name": "Start"}]).id
    refused = admin_api.post(url, json={"target_pipeline_id": lone})
    assert refused.status_code == 422 and "stages[0].name" in refused.json()["error"]["fields"]


def test_runs_record_the_version_they_were_scheduled_under(admin_api, client, pipeline, admin):
    qualified = _stage(pipeline, "Qualified")
    robot = admin_api.post(f"/api/v1/stages/{qualified}/robots",
                           json={"kind": "add_comment", "key": "note", "settings": {"text": "hi"},
                                 "delay": {"type": "after", "seconds": 3600}}).json()
    deal = admin_api.post("/api/v1/deals", json={"title": "Acme", "pipeline_id": pipeline.id}).json()
    assert admin_api.post(f"/api/v1/deals/{deal['id']}/move", json={"stage_id": qualified}).status_code == 200
    runs = admin_api.get(f"/api/v1/deals/{deal['id']}/runs").json()["items"]
    assert [(r["robot_id"], r["automation_version"]) for r in runs] == [(robot["id"], 2)]
    admin_api.patch(f"/api/v1/robots/{robot['id']}", json={"settings": {"text": "changed"}})
    assert admin_api.get(f"/api/v1/deals/{deal['id']}/runs").json()["items"][0]["automation_version"] == 2
    assert admin_api.get(BASE.format(pipeline.id) + "/history").json()["items"][0]["version"] == 3
    login(client, admin.email)
    page = client.get(f"/deals/{deal['id']}").text  # the deal page's run log says it
    assert "Scheduled under automation version 2" in page
    assert "the robot was changed since: it will run with its current settings" in page


def test_cli_export_and_import_with_dry_run(runtime, pipeline, admin, admin_api, tmp_path):
    from click.testing import CliRunner

    from kanban.cli import main

    _setup(admin_api, pipeline, admin)
    env = {"DATABASE_URL": runtime.settings.database_url, "KANBAN_SECRET_KEY": "test-secret-key",
           "KANBAN_DATA_DIR": str(tmp_path), "REDIS_URL": None}

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    path = tmp_path / "sales.yaml"
    assert cli("automation", "export", "Sales", str(path)).exit_code == 0
    doc = yaml.safe_load(path.read_text())
    assert doc == admin_api.get(BASE.format(pipeline.id)).json()
    doc["stages"][0]["robots"][0]["name"] = "Greeting"
    path.write_text(yaml.safe_dump(doc))
    dry = cli("automation", "import", str(pipeline.id), str(path), "--dry-run")
    assert dry.exit_code == 0 and "changed robot New / note" in dry.output and "dry run" in dry.output
    assert admin_api.get(BASE.format(pipeline.id)).json()["stages"][0]["robots"][0]["name"] != "Greeting"
    assert cli("automation", "import", "Sales", str(path)).exit_code == 0
    assert admin_api.get(BASE.format(pipeline.id)).json() == doc
    top = admin_api.get(BASE.format(pipeline.id) + "/history").json()["items"][0]
    assert top["source"] == "cli import" and top["changes"]["changed"][0]["fields"][0]["field"] == "name"
    doc["stages"][0]["robots"][0]["kind"] = "teleport"
    path.write_text(yaml.safe_dump(doc))
    bad = CliRunner().invoke(main, ["automation", "import", "Sales", str(path)], env=env)
    assert bad.exit_code == 1 and "stages[0].robots[0].kind" in bad.output
    assert cli("automation", "export", "Nope", "-").exit_code == 1


def test_pages_upload_errors_copy_and_admins_only(client, runtime, pipeline, admin, admin_api, rep):
    from tests.conftest import csrf_of

    _setup(admin_api, pipeline, admin)
    with runtime.sessions() as s, s.begin():
        other = create_pipeline(s, "Sales 2", [{"name": n} for n in ("New", "Qualified", "Proposal", "Invoice")]
                                + [{"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]).id
    client.headers.pop("Authorization", None)
    login(client, rep.email)
    assert client.get(f"/automation/pipelines/{pipeline.id}/code").status_code == 403
    client.cookies.clear()
    login(client, admin.email)
    base = f"/automation/pipelines/{pipeline.id}"
    assert client.get(base + "/code.xml").status_code == 404
    text = client.get(base + "/code.yaml").text
    token = csrf_of(client)
    bad = client.post(base + "/code/preview", data={"csrf_token": token,
                                                    "document": text.replace("kind: notify", "kind: teleport")})
    assert bad.status_code == 422 and "stages[0].robots[1].kind" in bad.text and "Nothing was changed" in bad.text
    diff = client.post(base + "/code/copy", data={"csrf_token": token, "target_pipeline_id": str(other)})
    assert diff.status_code == 200 and "Copy to “Sales 2”" in diff.text and diff.text.count('data-change="added"') == 5
    document = diff.text.split('<textarea name="document" hidden>', 1)[1].split("</textarea>", 1)[0]
    applied = client.post(f"/automation/pipelines/{other}/code/apply",
                          data={"csrf_token": token, "document": html.unescape(document)}, follow_redirects=False)
    assert applied.status_code == 303
    client.headers["Authorization"] = f"Bearer {token_for(runtime, admin.email)}"
    source, target = admin_api.get(BASE.format(pipeline.id)).json(), admin_api.get(BASE.format(other)).json()
    assert {**target, "pipeline": "Sales"} == source
    assert "ui import" in client.get(f"/automation/pipelines/{other}/code").text
