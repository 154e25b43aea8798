"""Deals over the API: create, read, edit, move, timeline, and their errors."""

from __future__ import annotations

from datetime import datetime

from kanban.events import Actor
from kanban.models import TimelineEntry
from tests.api.conftest import error_of
from tests.conftest import make_user

DEAL_KEYS = {"id", "title", "pipeline_id", "stage_id", "amount", "currency", "amount_display", "responsible_id",
             "contact", "fields", "tags", "version", "stage_entered_at", "created_at", "person_id", "organization_id",
             "status", "lost_reason", "closed_at", "next_activity", "rotting", "rotting_days", "last_activity_at"}


def test_create_deal_with_everything(client, admin_h, pipeline, rep):
    response = client.post("/api/v1/deals", headers=admin_h, json={
        "title": "Globex website", "pipeline_id": pipeline.id, "stage_id": pipeline.stages[2].id, "amount": 125000,
        "currency": "eur", "responsible_id": rep.id, "fields": {"source": "fair"}, "tags": ["web", "web", " vip "],
        "contact": {"name": "Hank Scorpio", "email": "hank@globex.example", "phone": "+1555123"}})
    assert response.status_code == 201, response.text
    deal = response.json()
    assert set(deal) == DEAL_KEYS
    assert deal["stage_id"] == pipeline.stages[2].id and deal["currency"] == "EUR" and deal["amount"] == 125000
    assert deal["responsible_id"] == rep.id and deal["fields"] == {"source": "fair"}
    assert deal["tags"] == ["web", "vip"]
    assert deal["contact"]["name"] == "Hank Scorpio" and deal["contact"]["email"] == "hank@globex.example"
    for key in ("stage_entered_at", "created_at"):
        assert datetime.fromisoformat(deal[key]).utcoffset() is not None
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=admin_h).json() == deal


def test_create_deal_defaults_to_first_stage(client, admin_h, pipeline):
    deal = client.post("/api/v1/deals", headers=admin_h, json={"title": "Initech", "pipeline_id": pipeline.id}).json()
    assert deal["stage_id"] == pipeline.stages[0].id
    assert (deal["amount"], deal["currency"], deal["contact"], deal["tags"], deal["fields"]) == (0, "USD", None, [], {})


def test_create_deal_validation(client, admin_h, pipeline, runtime):
    other = client.post("/api/v1/pipelines", headers=admin_h, json={"name": "Other", "stages": [{"name": "A"}]}).json()
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": " ", "pipeline_id": pipeline.id, "stage_id": other["stages"][0]["id"], "amount": -5,
        "currency": "EURO", "responsible_id": 999, "contact": {"name": "X", "email": "nope"}}), 422, "validation_error")
    assert set(err["fields"]) == {"title", "stage_id", "amount", "currency", "responsible_id", "contact.email"}
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={"title": "X", "pipeline_id": 999}),
                   422, "validation_error")
    assert "pipeline_id" in err["fields"]
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={"amount": 3}), 422, "validation_error")
    assert err["fields"] == {"title": "is required", "pipeline_id": "is required"}
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={"title": "X", "pipeline_id": pipeline.id,
                                                                        "stage": 1}), 422, "validation_error")
    assert err["fields"] == {"stage": "unknown field"}
    with runtime.sessions() as s:
        assert s.query(TimelineEntry).count() == 0


def test_create_deal_wrong_types_are_400(client, admin_h, pipeline):
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": ["x"], "pipeline_id": "1", "amount": 1.5, "tags": ["a", 2], "contact": "Bob", "fields": [],
        "responsible_id": True}), 400, "bad_request")
    assert set(err["fields"]) == {"title", "pipeline_id", "amount", "tags.1", "contact", "fields", "responsible_id"}


def test_malformed_json_is_400(client, admin_h, pipeline, make_deal):
    deal_id = make_deal()
    for method, url in (("POST", "/api/v1/deals"), ("PATCH", f"/api/v1/deals/{deal_id}"),
                        ("POST", f"/api/v1/deals/{deal_id}/move")):
        for body in (b"{nope", b"", b"\xff\xfe", b"[1, 2"):
            error_of(client.request(method, url, headers=admin_h, content=body), 400, "bad_request")
        error_of(client.request(method, url, headers=admin_h, content=b'"text"'), 400, "bad_request")


def test_get_deal_404(client, admin_h):
    error_of(client.get("/api/v1/deals/424242", headers=admin_h), 404, "not_found")
    error_of(client.patch("/api/v1/deals/424242", headers=admin_h, json={"title": "x"}), 404, "not_found")
    error_of(client.post("/api/v1/deals/424242/move", headers=admin_h, json={"stage_id": 1}), 404, "not_found")
    error_of(client.get("/api/v1/deals/424242/timeline", headers=admin_h), 404, "not_found")


def test_patch_deal(client, admin_h, make_deal, rep):
    deal_id = make_deal(fields={"a": 1, "b": 2}, tags=["x"])
    before = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    response = client.patch(f"/api/v1/deals/{deal_id}", headers=admin_h, json={
        "title": "Renamed", "amount": 990, "responsible_id": rep.id, "fields": {"b": None, "c": "new"},
        "tags": ["y"], "contact": {"name": "Marge", "email": "marge@example.com"}, "version": before["version"]})
    assert response.status_code == 200, response.text
    deal = response.json()
    assert (deal["title"], deal["amount"], deal["responsible_id"]) == ("Renamed", 990, rep.id)
    assert deal["fields"] == {"a": 1, "c": "new"} and deal["tags"] == ["y"]
    assert deal["contact"]["name"] == "Marge"
    assert deal["version"] > before["version"]
    cleared = client.patch(f"/api/v1/deals/{deal_id}", headers=admin_h, json={"contact": None, "responsible_id": None})
    assert cleared.json()["contact"] is None and cleared.json()["responsible_id"] is None
    timeline = client.get(f"/api/v1/deals/{deal_id}/timeline", headers=admin_h).json()["items"]
    assert [t["kind"] for t in timeline] == ["updated", "updated", "created"]


def test_patch_deal_errors(client, admin_h, make_deal, runtime):
    deal_id = make_deal()
    url = f"/api/v1/deals/{deal_id}"
    err = error_of(client.patch(url, headers=admin_h, json={"title": "", "currency": "x"}), 422, "validation_error")
    assert set(err["fields"]) == {"title", "currency"}
    err = error_of(client.patch(url, headers=admin_h, json={"stage_id": 3}), 422, "validation_error")
    assert err["fields"] == {"stage_id": "unknown field"}
    error_of(client.patch(url, headers=admin_h, json={"title": None}), 400, "bad_request")
    inactive = make_user(runtime, "gone@example.com")
    client.patch(f"/api/v1/deals/{deal_id}", headers=admin_h, json={"responsible_id": inactive.id})
    from kanban.models import User

    with runtime.sessions() as s, s.begin():
        s.get(User, inactive.id).active = False
    err = error_of(client.patch(url, headers=admin_h, json={"responsible_id": inactive.id, "amount": 1}),
                   422, "validation_error")
    assert err["fields"] == {"responsible_id": "user is inactive"}


def test_patch_with_stale_version_is_409_with_current_version(client, admin_h, make_deal):
    deal_id = make_deal()
    url = f"/api/v1/deals/{deal_id}"
    old = client.get(url, headers=admin_h).json()
    current = client.patch(url, headers=admin_h, json={"title": "First", "version": old["version"]}).json()
    err = error_of(client.patch(url, headers=admin_h, json={"title": "Second", "version": old["version"]}),
                   409, "conflict")
    assert err["current_version"] == current["version"]
    assert err["current"]["title"] == "First"
    assert "version" in err["fields"]
    assert client.get(url, headers=admin_h).json()["title"] == "First"


def test_move_deal(client, admin_h, make_deal, pipeline):
    deal_id = make_deal()
    deal = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    target = pipeline.stages[3].id
    moved = client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h,
                        json={"stage_id": target, "version": deal["version"]})
    assert moved.status_code == 200
    after = moved.json()
    assert after["stage_id"] == target and after["version"] > deal["version"]
    assert after["stage_entered_at"] >= deal["stage_entered_at"]
    [latest, *_] = client.get(f"/api/v1/deals/{deal_id}/timeline", headers=admin_h).json()["items"]
    assert latest["kind"] == "stage_changed"
    assert latest["data"]["from_stage_id"] == pipeline.stages[0].id and latest["data"]["to_stage_id"] == target


def test_move_to_current_stage_is_a_noop(client, admin_h, make_deal, pipeline):
    deal_id = make_deal(stage=1)
    before = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    same = client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h, json={"stage_id": pipeline.stages[1].id})
    assert same.status_code == 200
    assert same.json() == before
    assert len(client.get(f"/api/v1/deals/{deal_id}/timeline", headers=admin_h).json()["items"]) == 1


def test_move_errors(client, admin_h, make_deal, pipeline):
    deal_id = make_deal()
    url = f"/api/v1/deals/{deal_id}/move"
    other = client.post("/api/v1/pipelines", headers=admin_h, json={"name": "Other", "stages": [{"name": "A"}]}).json()
    err = error_of(client.post(url, headers=admin_h, json={"stage_id": other["stages"][0]["id"]}),
                   422, "validation_error")
    assert "stage_id" in err["fields"]
    err = error_of(client.post(url, headers=admin_h, json={"stage_id": 99999}), 422, "validation_error")
    assert "stage_id" in err["fields"]
    err = error_of(client.post(url, headers=admin_h, json={}), 422, "validation_error")
    assert err["fields"] == {"stage_id": "is required"}
    error_of(client.post(url, headers=admin_h, json={"stage_id": "2"}), 400, "bad_request")


def test_stale_move_is_409_and_changes_nothing(client, admin_h, make_deal, pipeline):
    deal_id = make_deal()
    url = f"/api/v1/deals/{deal_id}/move"
    old = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    first = client.post(url, headers=admin_h, json={"stage_id": pipeline.stages[1].id, "version": old["version"]})
    err = error_of(client.post(url, headers=admin_h, json={"stage_id": pipeline.stages[2].id,
                                                           "version": old["version"]}), 409, "conflict")
    assert err["current_version"] == first.json()["version"]
    assert err["current"]["stage_id"] == pipeline.stages[1].id
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["stage_id"] == pipeline.stages[1].id


def test_timeline_newest_first_and_paginated(client, admin, admin_h, make_deal, pipeline):
    deal_id = make_deal(actor=Actor.user(admin.id))
    for stage in pipeline.stages[1:5]:
        assert client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h, json={"stage_id": stage.id}).is_success
    url = f"/api/v1/deals/{deal_id}/timeline"
    page1 = client.get(url + "?limit=3", headers=admin_h).json()
    assert len(page1["items"]) == 3 and page1["next"]
    page2 = client.get(url, params={"limit": 3, "cursor": page1["next"]}, headers=admin_h).json()
    assert page2["next"] is None
    items = page1["items"] + page2["items"]
    # The last move enters the "Won" stage, which also marks the deal won.
    assert [t["kind"] for t in items] == ["status_changed"] + ["stage_changed"] * 4 + ["created"]
    ids = [t["id"] for t in items]
    assert ids == sorted(ids, reverse=True)
    assert all(t["actor"] == {"type": "user", "id": 1} or t["actor"]["type"] == "user" for t in items)
    assert set(items[0]) == {"id", "kind", "at", "actor", "text", "data"}
    assert items[-1]["text"] == "Deal created in “New”"


def test_overlong_texts_are_422_on_every_backend(client, admin_h, pipeline):
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": "t" * 301, "pipeline_id": pipeline.id,
        "contact": {"name": "n" * 201, "email": "a@" + "b" * 320, "phone": "1" * 41, "company": "c" * 201}}),
        422, "validation_error")
    assert set(err["fields"]) == {"title", "contact.name", "contact.email", "contact.phone", "contact.company"}
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": "ok", "pipeline_id": pipeline.id, "tags": ["x" * 101]}), 422, "validation_error")
    assert err["fields"] == {"tags": "each tag is at most 100 characters"}


def test_nul_characters_and_deep_nesting_are_refused(client, admin_h, pipeline):
    body = b'{"title": "a\\u0000b", "pipeline_id": %d}' % pipeline.id
    err = error_of(client.post("/api/v1/deals", headers=admin_h, content=body), 422, "validation_error")
    assert "body" in err["fields"]
    body = b'{"title": "ok", "pipeline_id": %d, "fields": {"k\\u0000": 1}}' % pipeline.id
    error_of(client.post("/api/v1/deals", headers=admin_h, content=body), 422, "validation_error")
    error_of(client.post("/api/v1/deals", headers=admin_h, content=b"[" * 100000 + b"]" * 100000), 400, "bad_request")
    nested = b'{"title": "ok", "pipeline_id": %d, "fields": {"k": ' % pipeline.id + b"[" * 900 + b"]" * 900 + b"}}"
    assert client.post("/api/v1/deals", headers=admin_h, content=nested).status_code in (201, 400)
