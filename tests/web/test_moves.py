"""Moving cards: no-JS form (POST-redirect-GET), htmx-style partial reply, reorder, stale moves, CSRF."""

from __future__ import annotations

from sqlalchemy import select

from kanban.events import Actor
from kanban.models import Deal, TimelineEntry
from kanban.services.deals import move_deal
from tests.conftest import csrf_of
from tests.web.conftest import add_deal

HX = {"HX-Request": "true"}


def _deal(runtime, deal_id):
    with runtime.sessions() as s:
        return s.get(Deal, deal_id)


def test_no_js_move_redirects_back_to_the_board(rep_web, runtime, deals, pipeline):
    deal, target = deals[0], pipeline.stages[2]
    back = f"/board?pipeline_id={pipeline.id}&tag=vip"
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": target.id, "version": deal.version,
        "from_stage_id": deal.stage_id, "return_to": back}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == back
    assert _deal(runtime, deal.id).stage_id == target.id
    page = rep_web.get(back)
    assert page.context["message"] == "Moved “Acme renewal” to “Proposal”."
    assert "Moved “Acme renewal” to “Proposal”." in page.text
    assert rep_web.get(back).context["message"] is None  # the flash is shown once
    with runtime.sessions() as s:
        kinds = s.scalars(select(TimelineEntry.kind).where(TimelineEntry.deal_id == deal.id)).all()
    assert kinds == ["created", "stage_changed"]


def test_move_refuses_foreign_return_path(rep_web, deals, pipeline):
    response = rep_web.post(f"/deals/{deals[0].id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[1].id, "return_to": "//evil.example/"},
        follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/board?pipeline_id=")


def test_partial_move_returns_both_columns(admin_web, runtime, deals, pipeline):
    # Globex pilot is the admin's deal (a rep moves only their own: tests/access).
    deal, source, target = deals[1], pipeline.stages[0], pipeline.stages[1]
    response = admin_web.post(f"/deals/{deal.id}/move", headers={**HX, "X-CSRF-Token": csrf_of(admin_web)}, data={
        "stage_id": target.id, "version": deal.version, "from_stage_id": source.id,
        "below_id": deals[3].id})
    assert response.status_code == 200
    cols = {c.stage.id: c for c in response.context["columns"]}
    assert set(cols) == {source.id, target.id}
    assert cols[source.id].count == 2 and cols[target.id].count == 2
    assert [c.title for c in cols[target.id].cards] == ["Globex pilot", "Umbrella audit"]  # placed above
    assert f'id="col-{source.id}"' in response.text and f'id="col-{target.id}"' in response.text
    assert 'id="board-message"' in response.text and "<html" not in response.text
    assert "Rex Rep</option>" in response.text  # the re-rendered "+ deal" form is complete


def test_reorder_within_a_column(rep_web, runtime, deals, pipeline):
    new = pipeline.stages[0]
    order = [c.title for c in rep_web.get("/board").context["columns"][0].cards]
    assert order == ["Initech licences", "Globex pilot", "Acme renewal"]
    initech = deals[2]
    response = rep_web.post(f"/deals/{initech.id}/move", headers={**HX, "X-CSRF-Token": csrf_of(rep_web)}, data={
        "stage_id": new.id, "version": initech.version, "from_stage_id": new.id,
        "above_id": deals[1].id, "below_id": deals[0].id})
    assert response.status_code == 200
    (col,) = response.context["columns"]
    assert [c.title for c in col.cards] == ["Globex pilot", "Initech licences", "Acme renewal"]
    assert _deal(runtime, initech.id).stage_id == new.id


def test_stale_partial_move_shows_current_state(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():  # someone else moves it first
        move_deal(s, deal.id, pipeline.stages[3].id, actor=Actor.user(admin.id))
    response = rep_web.post(f"/deals/{deal.id}/move", headers={**HX, "X-CSRF-Token": csrf_of(rep_web)}, data={
        "stage_id": pipeline.stages[1].id, "version": deal.version, "from_stage_id": pipeline.stages[0].id})
    assert response.status_code == 409
    message = "“Acme renewal” was moved by someone else to “Invoice”; the board shows the current state."
    assert response.context["message"] == message and message in response.text
    cols = {c.stage.name: c for c in response.context["columns"]}
    assert set(cols) == {"New", "Qualified", "Invoice"}
    assert [c.title for c in cols["Invoice"].cards] == ["Acme renewal"]
    assert _deal(runtime, deal.id).stage_id == pipeline.stages[3].id  # the stale move changed nothing


def test_stale_form_move_renders_board_with_409(rep_web, runtime, deals, pipeline, admin):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal.id, pipeline.stages[4].id, actor=Actor.user(admin.id))
    response = rep_web.post(f"/deals/{deal.id}/move", data={
        "csrf_token": csrf_of(rep_web), "stage_id": pipeline.stages[1].id, "version": deal.version,
        "from_stage_id": pipeline.stages[0].id, "return_to": f"/board?pipeline_id={pipeline.id}"},
        follow_redirects=False)
    assert response.status_code == 409
    assert "was moved by someone else to “Won”" in response.text
    assert {c.stage.name: c.count for c in response.context["columns"]}["Won"] == 1


def test_stale_move_after_an_edit_says_changed(rep_web, runtime, deals, pipeline, admin):
    from kanban.services.deals import update_deal

    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal.id, {"title": "Acme renewal 2027"}, actor=Actor.user(admin.id))
    response = rep_web.post(f"/deals/{deal.id}/move", headers={**HX, "X-CSRF-Token": csrf_of(rep_web)}, data={
        "stage_id": pipeline.stages[1].id, "version": deal.version, "from_stage_id": pipeline.stages[0].id})
    assert response.status_code == 409
    assert "“Acme renewal 2027” was changed by someone else" in response.context["message"]


def test_move_to_another_pipelines_stage_is_refused(rep_web, runtime, deals, pipeline):
    from kanban.services.pipelines import create_pipeline

    with runtime.sessions() as s, s.begin():
        other = create_pipeline(s, "Other", [{"name": "Elsewhere"}]).stages[0].id
    response = rep_web.post(f"/deals/{deals[0].id}/move", headers={**HX, "X-CSRF-Token": csrf_of(rep_web)},
                            data={"stage_id": other, "from_stage_id": pipeline.stages[0].id})
    assert response.status_code == 422
    assert "The move was refused" in response.context["message"]
    assert _deal(runtime, deals[0].id).stage_id == pipeline.stages[0].id


def test_move_without_stage_or_with_bad_numbers(rep_web, deals):
    token = csrf_of(rep_web)
    assert rep_web.post(f"/deals/{deals[0].id}/move", data={"csrf_token": token}).status_code == 422
    bad = rep_web.post(f"/deals/{deals[0].id}/move", data={"csrf_token": token, "stage_id": "x"})
    assert bad.status_code == 400
    assert rep_web.post("/deals/999999/move", data={"csrf_token": token, "stage_id": "1"}).status_code == 404


def test_csrf_is_required(rep_web, runtime, deals, pipeline):
    response = rep_web.post(f"/deals/{deals[0].id}/move", data={"stage_id": pipeline.stages[1].id})
    assert response.status_code == 403
    response = rep_web.post(f"/deals/{deals[0].id}/move", headers={**HX, "X-CSRF-Token": "forged"},
                            data={"stage_id": pipeline.stages[1].id})
    assert response.status_code == 403
    assert rep_web.post("/board/deals", data={"title": "x"}).status_code == 403
    assert _deal(runtime, deals[0].id).stage_id == pipeline.stages[0].id


def test_move_requires_login(client, runtime, rep, pipeline):
    deal = add_deal(runtime, pipeline, rep, "Solo")
    response = client.post(f"/deals/{deal.id}/move", headers={"X-CSRF-Token": "none"},
                           data={"stage_id": pipeline.stages[1].id}, follow_redirects=False)
    assert response.status_code == 403  # no session: no CSRF token to match, refused before anything else
