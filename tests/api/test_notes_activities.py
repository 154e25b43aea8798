"""Notes (mentions notify, author-only edits) and activities (states, complete, events) over the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kanban import timezones
from kanban.domain_events import DomainEvent
from kanban.models import Notification, TimelineEntry
from kanban.services.notes import render_note
from tests.api.conftest import error_of


def _types(runtime):
    with runtime.sessions() as s:
        return [e.type for e in s.scalars(select(DomainEvent).where(DomainEvent.type.not_like("deal.created"))
                                          .order_by(DomainEvent.id))]


def test_note_with_mention_notifies_and_is_on_the_timeline(client, admin_h, rep_h, rep, admin, make_deal, runtime):
    deal_id = make_deal()
    made = client.post(f"/api/v1/deals/{deal_id}/notes", headers=admin_h,
                       json={"text": "Call back tomorrow @rep@example.com, see https://x.test/a?b=1"})
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["mentions"] == [rep.id] and note["author_id"] == admin.id
    with runtime.sessions() as s:
        bell = list(s.scalars(select(Notification).where(Notification.user_id == rep.id)))
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "note")).one()
    assert len(bell) == 1 and "mentioned you" in bell[0].text and bell[0].deal_id == deal_id
    assert entry.data["note_id"] == note["id"]
    assert "deal.commented" in _types(runtime)
    # Only the author edits or deletes; both stay visible on the timeline.
    error_of(client.patch(f"/api/v1/notes/{note['id']}", headers=rep_h, json={"text": "x"}), 403, "forbidden")
    edited = client.patch(f"/api/v1/notes/{note['id']}", headers=admin_h, json={"text": "Edited"}).json()
    assert edited["text"] == "Edited" and edited["edited_at"]
    assert client.delete(f"/api/v1/notes/{note['id']}", headers=admin_h).status_code == 204
    assert client.get(f"/api/v1/deals/{deal_id}/notes", headers=admin_h).json()["items"] == []
    kinds = [t["kind"] for t in client.get(f"/api/v1/deals/{deal_id}/timeline", headers=admin_h).json()["items"]]
    assert kinds[0] == "note_deleted"


def test_note_validation(client, admin_h, make_deal):
    deal_id = make_deal()
    error_of(client.post(f"/api/v1/deals/{deal_id}/notes", headers=admin_h, json={"text": "  "}), 422,
             "validation_error")
    error_of(client.post(f"/api/v1/deals/{deal_id}/notes", headers=admin_h, json={"text": "x" * 10_001}), 422,
             "validation_error")
    error_of(client.post("/api/v1/deals/9999/notes", headers=admin_h, json={"text": "hi"}), 404, "not_found")


def test_render_note_is_safe():
    html = render_note("<b>hi</b>\nsee https://a.test/x?y=<1>. @ann@b.test", {"ann@b.test": "Ann"})
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert '<a href="https://a.test/x?y=" rel="noopener noreferrer nofollow" target="_blank">' in html
    assert "<br>" in html and '<span class="mention" data-email="ann@b.test">@Ann</span>' in html
    assert str(render_note('javascript:alert(1) "q"')) == "javascript:alert(1) &#34;q&#34;"


def test_activity_life_states_and_events(client, admin_h, rep, make_deal, runtime):
    deal_id = make_deal()
    today = timezones.today()
    body = {"type": "call", "subject": "Call Ann", "due_date": (today - timedelta(days=1)).isoformat(),
            "due_time": "09:30", "assignee_id": rep.id, "deal_id": deal_id}
    made = client.post("/api/v1/activities", headers=admin_h, json=body)
    assert made.status_code == 201, made.text
    act = made.json()
    assert act["state"] == "overdue" and act["due_time"] == "09:30"
    later = client.post("/api/v1/activities", headers=admin_h, json={
        **body, "subject": "Later", "due_date": (today + timedelta(days=3)).isoformat(), "due_time": None}).json()
    deal = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    assert deal["next_activity"]["id"] == act["id"] and deal["next_activity"]["state"] == "overdue"

    def listed(**params):
        return [a["id"] for a in client.get("/api/v1/activities", headers=admin_h, params=params).json()["items"]]

    assert listed(state="overdue", assignee_id=rep.id) == [act["id"]]
    assert listed(state="upcoming") == [later["id"]] and listed(state="today") == []
    done = client.patch(f"/api/v1/activities/{act['id']}", headers=admin_h, json={"done": True}).json()
    assert done["done"] and done["state"] == "done" and done["done_at"]
    assert listed(state="done", deal_id=deal_id) == [act["id"]]
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["next_activity"]["id"] == later["id"]
    moved = client.patch(f"/api/v1/activities/{later['id']}", headers=admin_h,
                         json={"due_date": today.isoformat()}).json()
    assert moved["state"] == "today"
    assert client.delete(f"/api/v1/activities/{later['id']}", headers=admin_h).status_code == 204
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["next_activity"] is None
    assert _types(runtime) == ["activity.created", "activity.created", "activity.completed", "activity.updated",
                               "activity.deleted"]


def test_activity_validation_writes_nothing(client, admin_h):
    err = error_of(client.post("/api/v1/activities", headers=admin_h, json={
        "type": "lunch", "subject": "", "due_date": "tomorrow", "due_time": "25:00", "deal_id": 999}),
        422, "validation_error")
    assert set(err["fields"]) >= {"type", "subject", "due_date", "due_time", "deal_id"}
    assert client.get("/api/v1/activities", headers=admin_h).json()["items"] == []
    error_of(client.get("/api/v1/activities", headers=admin_h, params={"state": "soon"}), 422, "validation_error")
