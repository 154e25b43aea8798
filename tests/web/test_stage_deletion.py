"""Deleting a stage that holds deals: what will run is said first, moving without robots, what goes away."""

from __future__ import annotations

from sqlalchemy import select

from kanban.models import Deal, Stage, TimelineEntry
from robots import config as robot_config
from robots.models import RobotRun
from tests.conftest import csrf_of, token_for
from tests.web.conftest import add_deal
from triggers import config as trigger_config


def _robot(runtime, stage_id, name, active=True):
    with runtime.sessions() as s, s.begin():
        result = robot_config.create_robot(s, stage_id, {"kind": "add_comment", "name": name,
                                                        "settings": {"text": "hello"}, "active": active})
        return result.robot.id


def _trigger(runtime, stage_id, name):
    with runtime.sessions() as s, s.begin():
        return trigger_config.create_trigger(s, stage_id, {"kind": "email_opened", "name": name})[0].id


def _setup(runtime, pipeline, rep):
    new, won = pipeline.stages[0], pipeline.stages[4]
    invoice_robot = _robot(runtime, won.id, "Send the invoice")
    _robot(runtime, won.id, "Old robot", active=False)
    own_robot = _robot(runtime, new.id, "Welcome call")
    own_trigger = _trigger(runtime, new.id, "Opened the offer")
    ids = [add_deal(runtime, pipeline, rep, f"Deal {i}").id for i in range(2)]
    return new, won, invoice_robot, own_robot, own_trigger, ids


def _runs_of(runtime, robot_id):
    with runtime.sessions() as s:
        return list(s.scalars(select(RobotRun).where(RobotRun.robot_id == robot_id)))


def test_confirm_page_names_what_will_run_and_what_goes_away(admin_web, runtime, pipeline, rep):
    new, won, invoice_robot, own_robot, own_trigger, _ = _setup(runtime, pipeline, rep)
    page = admin_web.get(f"/admin/stages/{new.id}/delete")
    removed = page.context["preview"].removed
    assert {(i.type, i.id) for i in removed} == {("robot", own_robot), ("trigger", own_trigger)}
    assert "Welcome call" in page.text and "Opened the offer" in page.text
    assert "Delete stage</button>" not in page.text  # a destination first, then what runs there
    page = admin_web.get(f"/admin/stages/{new.id}/delete?move_to={won.id}")
    assert [i.id for i in page.context["preview"].will_run] == [invoice_robot]  # the disabled one does not run
    assert "Send the invoice" in page.text and "Old robot" not in page.text
    assert 'name="run_robots" value="0" checked' in page.text and "Delete stage</button>" in page.text


def test_delete_moving_deals_without_running_robots(admin_web, runtime, pipeline, rep):
    new, won, invoice_robot, _, _, ids = _setup(runtime, pipeline, rep)
    response = admin_web.post(f"/admin/stages/{new.id}/delete", data={
        "csrf_token": csrf_of(admin_web, "/admin/pipelines"), "move_to": str(won.id), "run_robots": "0"},
        follow_redirects=False)
    assert response.status_code == 303
    assert _runs_of(runtime, invoice_robot) == []
    with runtime.sessions() as s:
        assert set(s.scalars(select(Deal.stage_id).where(Deal.id.in_(ids)))) == {won.id}
        assert s.get(Stage, new.id).archived
        moves = list(s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "stage_changed")))
    assert len(moves) == 2 and all(m.data.get("run_robots") is False for m in moves)
    assert moves[0].text == "Moved from “New” to “Won” (stage “New” deleted; the robots of “Won” were not run)"


def test_delete_with_robots_runs_them(admin_web, runtime, pipeline, rep):
    new, won, invoice_robot, _, _, ids = _setup(runtime, pipeline, rep)
    response = admin_web.post(f"/admin/stages/{new.id}/delete", data={
        "csrf_token": csrf_of(admin_web, "/admin/pipelines"), "move_to": str(won.id), "run_robots": "1"},
        follow_redirects=False)
    assert response.status_code == 303
    assert sorted(r.deal_id for r in _runs_of(runtime, invoice_robot)) == sorted(ids)


def test_api_preview_and_delete_without_robots(client, runtime, pipeline, rep, admin):
    new, won, invoice_robot, own_robot, own_trigger, ids = _setup(runtime, pipeline, rep)
    headers = {"Authorization": f"Bearer {token_for(runtime, admin.email)}"}
    preview = client.get(f"/api/v1/stages/{new.id}/deletion?move_to={won.id}", headers=headers)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["deals"], body["move_to"]) == (2, won.id)
    assert [(i["type"], i["id"], i["kind"]) for i in body["will_run"]] == [("robot", invoice_robot, "Add a comment")]
    assert {(i["type"], i["id"]) for i in body["removed"]} == {("robot", own_robot), ("trigger", own_trigger)}
    missing = client.get(f"/api/v1/stages/{new.id}/deletion", headers=headers)
    assert missing.status_code == 422 and "move_to" in missing.json()["error"]["fields"]
    bad = client.delete(f"/api/v1/stages/{new.id}?move_to={won.id}&run_robots=2", headers=headers)
    assert bad.status_code == 422 and "run_robots" in bad.json()["error"]["fields"]
    done = client.delete(f"/api/v1/stages/{new.id}?move_to={won.id}&run_robots=0", headers=headers)
    assert done.status_code == 204
    assert _runs_of(runtime, invoice_robot) == []
    with runtime.sessions() as s:
        assert set(s.scalars(select(Deal.stage_id).where(Deal.id.in_(ids)))) == {won.id}
