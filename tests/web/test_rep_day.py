"""The rep's day from the deal page and "My activities": notes with mentions, activities, won / lost / reopen,
and the lost reasons admin page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kanban import clock
from kanban.crm_models import Activity, LostReason, Note
from kanban.models import Deal, Notification, Pipeline
from tests.conftest import csrf_of, login


def _activities(runtime, **where):
    with runtime.sessions() as s:
        stmt = select(Activity).order_by(Activity.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(Activity, name) == value)
        return list(s.scalars(stmt))


def _deal(runtime, deal_id):
    with runtime.sessions() as s:
        return s.get(Deal, deal_id)


def test_note_with_mention_notifies_and_renders_safely(rep_web, runtime, deals, admin):
    deal = deals[0]
    text = "Call went well, @admin@example.com please send the quote.\nSee https://example.com/q <script>"
    response = rep_web.post(f"/deals/{deal.id}/notes", data={"csrf_token": csrf_of(rep_web), "text": text},
                            follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/deals/{deal.id}#timeline"
    with runtime.sessions() as s:
        assert [n.user_id for n in s.scalars(select(Notification))] == [admin.id]
    html = rep_web.get(f"/deals/{deal.id}").text
    assert '<span class="mention" data-email="admin@example.com">@Ada Admin</span>' in html
    assert '<a href="https://example.com/q"' in html and "&lt;script&gt;" in html and "<script>" not in html
    assert 'action="/notes/' in html  # the author may edit or delete it


def test_empty_note_keeps_the_page_and_writes_nothing(rep_web, runtime, deals):
    response = rep_web.post(f"/deals/{deals[0].id}/notes", data={"csrf_token": csrf_of(rep_web), "text": "  "})
    assert response.status_code == 422 and response.context["composer_errors"] == {"text": "text is required"}
    with runtime.sessions() as s:
        assert s.scalars(select(Note)).first() is None


def test_author_edits_and_deletes_a_note_others_cannot(client, runtime, deals, rep, admin):
    login(client, rep.email)
    token = csrf_of(client)
    client.post(f"/deals/{deals[0].id}/notes", data={"csrf_token": token, "text": "first"})
    with runtime.sessions() as s:
        note_id = s.scalars(select(Note.id)).one()
    client.post(f"/notes/{note_id}/edit", data={"csrf_token": token, "text": "second"})
    page = client.get(f"/deals/{deals[0].id}").text
    assert "second" in page and "(edited)" in page
    client.post("/logout", data={"csrf_token": token})
    login(client, admin.email)
    assert "second" in client.get(f"/deals/{deals[0].id}").text
    assert f'action="/notes/{note_id}/edit"' not in client.get(f"/deals/{deals[0].id}").text
    assert client.post(f"/notes/{note_id}/delete", data={"csrf_token": csrf_of(client)}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    login(client, rep.email)
    client.post(f"/notes/{note_id}/delete", data={"csrf_token": csrf_of(client)})
    with runtime.sessions() as s:
        assert s.get(Note, note_id) is None
    assert "Note deleted" in client.get(f"/deals/{deals[0].id}").text


def test_plan_complete_and_reschedule_from_the_deal_page(rep_web, runtime, deals, rep):
    deal = deals[0]
    token = csrf_of(rep_web)
    today = clock.now().date()
    response = rep_web.post("/activities", data={
        "csrf_token": token, "deal_id": deal.id, "return_to": f"/deals/{deal.id}", "type": "meeting",
        "subject": "Demo", "due_date": today.isoformat(), "due_time": "14:30", "assignee_id": rep.id},
        follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/deals/{deal.id}"
    (activity,) = _activities(runtime, deal_id=deal.id)
    page = rep_web.get(f"/deals/{deal.id}")
    assert "Demo" in page.text and "today 14:30" in page.text and page.context["deal_activities"][0].id == activity.id
    rep_web.post(f"/activities/{activity.id}/reschedule", data={
        "csrf_token": token, "due_date": (today + timedelta(days=1)).isoformat(), "due_time": "",
        "return_to": f"/deals/{deal.id}"})
    assert _activities(runtime, id=activity.id)[0].due_date == today + timedelta(days=1)
    rep_web.post(f"/activities/{activity.id}/done", data={"csrf_token": token, "return_to": f"/deals/{deal.id}"})
    assert _activities(runtime, id=activity.id)[0].done
    assert "Completed meeting “Demo”" in rep_web.get(f"/deals/{deal.id}").text


def test_invalid_activity_keeps_typed_values(rep_web, runtime, deals):
    response = rep_web.post("/activities", data={
        "csrf_token": csrf_of(rep_web), "deal_id": deals[0].id, "type": "call", "subject": "", "due_date": "soon"})
    assert response.status_code == 422
    assert set(response.context["composer_errors"]) >= {"subject", "due_date"}
    assert response.context["composer_tab"] == "activity" and response.context["composer"]["due_date"] == "soon"
    assert _activities(runtime) == []


def test_my_activities_groups_and_filters(rep_web, runtime, deals, rep, admin):
    today = clock.now().date()
    with runtime.sessions() as s, s.begin():
        for days, kind, who in ((-2, "call", rep), (0, "email", rep), (3, "call", rep), (30, "task", rep),
                                (0, "call", admin)):
            s.add(Activity(type=kind, subject=f"{kind} {days}", due_date=today + timedelta(days=days),
                           assignee_id=who.id, deal_id=deals[0].id))
    response = rep_web.get("/activities")
    groups = {key: [a.subject for a in items] for key, _, items in response.context["groups"]}
    assert groups == {"overdue": ["call -2"], "today": ["email 0"], "week": ["call 3"], "later": ["task 30"]}
    assert "My activities" in response.text and "Acme renewal" in response.text
    calls = rep_web.get("/activities?type=call")
    assert [a.subject for _, _, items in calls.context["groups"] for a in items] == ["call -2", "call 3"]
    anyone = rep_web.get("/activities?assignee_id=anyone")
    assert sum(len(items) for _, _, items in anyone.context["groups"]) == 5
    bad = rep_web.post("/activities", data={"csrf_token": csrf_of(rep_web), "type": "call", "subject": "x",
                                            "due_date": ""})
    assert bad.status_code == 422 and "due_date" in bad.context["errors"]


def test_won_lost_reopen_from_the_deal_page(rep_web, runtime, deals, pipeline):
    deal = deals[0]
    token = csrf_of(rep_web)
    with runtime.sessions() as s, s.begin():
        s.add(LostReason(name="Too expensive"))
    r = rep_web.post(f"/deals/{deal.id}/won", data={"csrf_token": token, "return_to": f"/deals/{deal.id}"},
                     follow_redirects=False)
    assert r.status_code == 303 and _deal(runtime, deal.id).status == "won"
    page = rep_web.get(f"/deals/{deal.id}")
    assert "“Acme renewal” marked won." in page.text and 'class="status-badge status-won"' in page.text
    assert page.context["stage"].id == deal.stage_id  # a won deal keeps its stage
    rep_web.post(f"/deals/{deal.id}/reopen", data={"csrf_token": token})
    with runtime.sessions() as s:
        reason = s.scalars(select(LostReason)).one()
    rep_web.post(f"/deals/{deal.id}/lost", data={"csrf_token": token, "reason_id": reason.id})
    saved = _deal(runtime, deal.id)
    assert (saved.status, saved.lost_reason) == ("lost", "Too expensive")
    assert "Reason: Too expensive" in rep_web.get(f"/deals/{deal.id}").text


def test_lost_needs_a_reason_when_the_pipeline_says_so(rep_web, runtime, deals, pipeline):
    deal = deals[0]
    with runtime.sessions() as s, s.begin():
        s.get(Pipeline, pipeline.id).lost_reason_required = True
    # The board's drop (JS) gets the columns and a message, nothing written.
    r = rep_web.post(f"/deals/{deal.id}/lost", data={"csrf_token": csrf_of(rep_web)}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and "choose a reason" in r.text and f'id="col-{deal.stage_id}"' in r.text
    assert _deal(runtime, deal.id).status == "open"
    board = rep_web.get(f"/board?pipeline_id={pipeline.id}")
    assert board.context["lost_reason_required"] and 'id="lost-dialog"' in board.text
    assert '<select name="reason_id" id="lost-reason" required>' in board.text
    ok = rep_web.post(f"/deals/{deal.id}/lost", data={"csrf_token": csrf_of(rep_web), "reason": "Chose a rival"},
                      headers={"HX-Request": "true"})
    assert ok.status_code == 200 and "marked lost" in ok.text and "status-lost" in ok.text


def test_lost_reasons_admin_page(admin_web, runtime, pipeline):
    token = csrf_of(admin_web)
    admin_web.post("/admin/lost-reasons", data={"csrf_token": token, "name": "No budget"})
    dup = admin_web.post("/admin/lost-reasons", data={"csrf_token": token, "name": "no BUDGET"})
    assert dup.status_code == 409 and dup.context["errors"] == {"name": "already exists"}
    admin_web.post("/admin/lost-reasons/required", data={"csrf_token": token, "required": str(pipeline.id)})
    with runtime.sessions() as s:
        assert s.get(Pipeline, pipeline.id).lost_reason_required
        reason = s.scalars(select(LostReason)).one()
    page = admin_web.get("/admin/lost-reasons")
    assert "No budget" in page.text and 'href="/admin/lost-reasons"' in page.text
    admin_web.post(f"/admin/lost-reasons/{reason.id}/delete", data={"csrf_token": token})
    admin_web.post("/admin/lost-reasons/required", data={"csrf_token": token})
    with runtime.sessions() as s:
        assert s.scalars(select(LostReason)).first() is None
        assert not s.get(Pipeline, pipeline.id).lost_reason_required


def test_reps_cannot_edit_lost_reasons(rep_web):
    assert rep_web.get("/admin/lost-reasons").status_code == 403
    assert rep_web.post("/admin/lost-reasons", data={"csrf_token": csrf_of(rep_web), "name": "x"}).status_code == 403
