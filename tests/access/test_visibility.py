"""Pipelines visible to some departments only: 404 everywhere for everyone else; board totals follow scopes."""

from __future__ import annotations

from kanban.models import Department
from kanban.web.live import readable_notice
from tests.access.conftest import set_scopes
from tests.conftest import csrf_of, login


def _support_only(client, team, runtime) -> int:
    with runtime.sessions() as s:
        support = s.query(Department).filter_by(name="Support").one().id
    response = client.patch(f"/api/v1/pipelines/{team.pipeline.id}", headers=team.h("admin"),
                            json={"visible_to": [support]})
    assert response.status_code == 200 and response.json()["visible_to"] == [support]
    return support


def test_pipeline_visible_to_a_department_is_404_for_the_others(client, runtime, team):
    _support_only(client, team, runtime)
    rep, other = team.h("rep"), team.h("other")
    pid, deal = team.pipeline.id, team.deals["rep"]
    assert client.get(f"/api/v1/pipelines/{pid}", headers=rep).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/pipelines", headers=rep).json()["items"]] == []
    assert client.get(f"/api/v1/deals/{deal}", headers=rep).status_code == 404
    assert client.get("/api/v1/deals?q=Deal", headers=rep).json()["items"] == []
    assert client.post("/api/v1/deals", headers=rep, json={"title": "x", "pipeline_id": pid}).status_code == 404
    # The department it is for, and admins, still see it.
    assert client.get(f"/api/v1/deals/{deal}", headers=other).status_code == 200
    assert len(client.get("/api/v1/deals", headers=team.h("admin")).json()["items"]) == 4
    login(client, team.users["rep"].email)
    assert client.get(f"/board?pipeline_id={pid}").status_code == 404
    assert client.get("/board").context["pipeline"] is None
    assert client.get(f"/board/columns/{team.pipeline.stages[0].id}").status_code == 404
    assert client.get(f"/deals/{deal}").status_code == 404
    assert client.get(f"/events?pipeline_id={pid}").status_code == 404
    assert client.get(f"/events?deal_id={deal}").status_code == 404
    assert client.get("/events?deal_id=2147483648").status_code in (400, 404)  # out of range: refused


def test_visible_to_is_checked(client, team):
    bad = client.patch(f"/api/v1/pipelines/{team.pipeline.id}", headers=team.h("admin"),
                       json={"visible_to": [999999]})
    assert bad.status_code == 422 and "visible_to" in bad.json()["error"]["fields"]
    assert client.patch(f"/api/v1/pipelines/{team.pipeline.id}", headers=team.h("admin"),
                        json={"visible_to": "some"}).status_code in (400, 422)
    assert client.patch(f"/api/v1/pipelines/{team.pipeline.id}", headers=team.h("rep"),
                        json={"visible_to": "all"}).status_code == 403
    renamed = client.patch(f"/api/v1/pipelines/{team.pipeline.id}", headers=team.h("admin"),
                           json={"name": "Renamed", "visible_to": "all"})
    assert renamed.json()["name"] == "Renamed" and renamed.json()["visible_to"] == "all"


def test_board_totals_count_only_readable_deals(client, runtime, team):
    set_scopes(runtime, "rep", read="own")
    login(client, team.users["rep"].email)
    first = client.get(f"/board?pipeline_id={team.pipeline.id}").context["columns"][0]
    assert (first.count, first.sums) == (1, [("USD", 1000)])  # the kept totals say 4 and 4000
    set_scopes(runtime, "rep", read="all")
    first = client.get(f"/board?pipeline_id={team.pipeline.id}").context["columns"][0]
    assert (first.count, first.sums) == (4, [("USD", 4000)])


def test_live_notices_only_about_readable_deals(runtime, team):
    set_scopes(runtime, "rep", read="own")
    rep, mine, theirs = team.users["rep"], team.deals["rep"], team.deals["other"]
    board = {"type": "board", "pipeline_id": team.pipeline.id, "stage_ids": [1], "deal_ids": [mine, theirs]}
    with runtime.sessions() as s:
        assert readable_notice(s, rep, board) == {**board, "deal_ids": [mine]}
        assert readable_notice(s, rep, {**board, "deal_ids": [theirs]}) is None
        assert readable_notice(s, rep, {"type": "deal", "deal_id": theirs}) is None
        assert readable_notice(s, rep, {"type": "deal", "deal_id": mine}) == {"type": "deal", "deal_id": mine}
        bell = {"type": "notifications", "user_ids": [rep.id]}
        assert readable_notice(s, rep, bell) == bell


def test_reps_get_no_robot_or_trigger_settings(client, team):
    """Issue 8, vulnerability 5: webhook URLs and keys are in settings; reps get 403 on those endpoints."""
    stage = team.pipeline.stages[0].id
    robot = client.post(f"/api/v1/stages/{stage}/robots", headers=team.h("admin"), json={
        "kind": "webhook", "settings": {"url": "https://user:secret@hooks.example.com/x"}})
    assert robot.status_code == 201, robot.text
    for path in (f"/api/v1/stages/{stage}/robots", f"/api/v1/robots/{robot.json()['id']}",
                 f"/api/v1/stages/{stage}/triggers"):
        assert client.get(path, headers=team.h("rep")).status_code == 403, path
        assert client.get(path, headers=team.h("admin")).status_code == 200, path


def test_admin_page_sets_pipeline_visibility(client, runtime, team):
    login(client, team.users["admin"].email)
    with runtime.sessions() as s:
        support = s.query(Department).filter_by(name="Support").one().id
    data = {"pipeline_id": team.pipeline.id, "visible": "some", "department_id": [support],
            "csrf_token": csrf_of(client)}
    saved = client.post("/admin/pipelines/visibility", data=data)
    assert saved.status_code == 200 and "visible to 1 department" in saved.text
    assert client.get(f"/api/v1/deals/{team.deals['rep']}", headers=team.h("rep")).status_code == 404
    client.post("/admin/pipelines/visibility", data={**data, "visible": "all"})
    assert client.get(f"/api/v1/deals/{team.deals['rep']}", headers=team.h("rep")).status_code == 200
