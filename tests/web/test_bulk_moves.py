"""The board's bulk move without JavaScript (form post, redirect, flash) and with htmx (columns and a message)."""

from __future__ import annotations

from kanban.models import Deal
from tests.conftest import csrf_of

HX = {"HX-Request": "true"}


def _stage(runtime, deal_id):
    with runtime.sessions() as s:
        return s.get(Deal, deal_id).stage_id


def test_no_js_bulk_move_redirects_with_the_result(rep_web, runtime, deals, pipeline):
    mine = [d for d in deals if d.title in ("Acme renewal", "Initech licences")]
    admins = next(d for d in deals if d.title == "Globex pilot")  # a rep moves only their own deals
    target = pipeline.stages[2]
    back = f"/board?pipeline_id={pipeline.id}"
    response = rep_web.post("/board/bulk-move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": target.id, "return_to": back,
        "deal_ids": [f"{mine[0].id}:{mine[0].version}", str(mine[1].id), f"{admins.id}:{admins.version}"]},
        follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == back
    assert [_stage(runtime, d.id) for d in mine] == [target.id, target.id]
    assert _stage(runtime, admins.id) == pipeline.stages[0].id
    page = rep_web.get(back)
    assert page.context["message"] == "2 moved to “Proposal”, 1 you may not move."
    assert page.context["message_kind"] == "error"


def test_htmx_bulk_move_returns_the_touched_columns(admin_web, runtime, deals, pipeline):
    target = pipeline.stages[1]
    ids = [d.id for d in deals if d.stage_id == pipeline.stages[0].id]
    response = admin_web.post("/board/bulk-move", headers={**HX, "X-CSRF-Token": csrf_of(admin_web)},
                              data={"stage_id": target.id, "deal_ids": [str(i) for i in ids]})
    assert response.status_code == 200
    assert {c.stage.id for c in response.context["columns"]} == {pipeline.stages[0].id, target.id}
    assert response.context["message"] == "3 moved to “Qualified”."
    assert 'id="board-message"' in response.text and "<html" not in response.text


def test_bad_selection_is_refused(admin_web, runtime, deals, pipeline):
    response = admin_web.post("/board/bulk-move", headers={**HX, "X-CSRF-Token": csrf_of(admin_web)},
                              data={"stage_id": pipeline.stages[1].id, "deal_ids": ["1:x"]})
    assert response.status_code == 422
    response = admin_web.post("/board/bulk-move", headers={**HX, "X-CSRF-Token": csrf_of(admin_web)},
                              data={"deal_ids": [str(deals[0].id)]})
    assert response.status_code == 422
    assert _stage(runtime, deals[0].id) == pipeline.stages[0].id
