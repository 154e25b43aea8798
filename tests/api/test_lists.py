"""Deal filters, keyset pagination (limit, cursor, max 500) and the user directory."""

from __future__ import annotations

from sqlalchemy import insert

from kanban import clock
from kanban.models import Deal
from tests.api.conftest import error_of


def test_filters(client, admin_h, make_deal, pipeline, rep):
    a = make_deal("Acme 100% pilot", tags=["hot", "smb"], responsible_id=rep.id,
                  contact={"name": "Wile Coyote", "email": "wile@acme.example"})
    b = make_deal("Globex rollout", stage=2, tags=["smb"])
    c = make_deal("Initech support", stage=2, contact={"name": "Bill", "email": "bill@initech.example"})

    def ids(**params):
        response = client.get("/api/v1/deals", params=params, headers=admin_h)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["items"]]

    assert ids() == [c, b, a]
    assert ids(pipeline_id=pipeline.id) == [c, b, a]
    assert ids(pipeline_id=pipeline.id + 1) == []
    assert ids(stage_id=pipeline.stages[2].id) == [c, b]
    assert ids(responsible_id=rep.id) == [a]
    assert ids(tag="smb") == [b, a]
    assert ids(tag="hot") == [a]
    assert ids(q="GLOBEX") == [b]
    assert ids(q="coyote") == [a]
    assert ids(q="initech.example") == [c]
    assert ids(q="100%") == [a]
    assert ids(q="%") == [a]
    assert ids(q="_") == []
    assert ids(tag="smb", stage_id=pipeline.stages[2].id) == [b]
    err = error_of(client.get("/api/v1/deals?stage_id=two", headers=admin_h), 400, "bad_request")
    assert err["fields"] == {"stage_id": "must be an integer"}
    for name in ("q", "tag"):
        err = error_of(client.get(f"/api/v1/deals?{name}=a%00b", headers=admin_h), 422, "validation_error")
        assert name in err["fields"]


def _bulk_deals(runtime, pipeline, count):
    at = clock.now()
    rows = [{"pipeline_id": pipeline.id, "stage_id": pipeline.stages[0].id, "title": f"Bulk {i}", "amount": i,
             "currency": "USD", "fields": {}, "tags": [], "version": 1, "rank": float(i), "stage_entered_at": at,
             "created_at": at, "updated_at": at} for i in range(count)]
    with runtime.sessions() as s, s.begin():
        s.execute(insert(Deal), rows)


def test_pagination_walks_every_deal_once(client, admin_h, runtime, pipeline):
    _bulk_deals(runtime, pipeline, 7)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/deals", params=params, headers=admin_h).json()
        assert len(body["items"]) <= 3
        seen += [d["id"] for d in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    body = client.get("/api/v1/deals", params={"limit": 7}, headers=admin_h).json()
    assert len(body["items"]) == 7 and body["next"] is None


def test_limit_defaults_to_50_and_caps_at_500(client, admin_h, runtime, pipeline):
    _bulk_deals(runtime, pipeline, 502)
    body = client.get("/api/v1/deals", headers=admin_h).json()
    assert len(body["items"]) == 50 and body["next"]
    body = client.get("/api/v1/deals?limit=100000", headers=admin_h).json()
    assert len(body["items"]) == 500 and body["next"]
    rest = client.get("/api/v1/deals", params={"limit": 500, "cursor": body["next"]}, headers=admin_h).json()
    assert len(rest["items"]) == 2 and rest["next"] is None


def test_bad_limit_and_cursor(client, admin_h):
    err = error_of(client.get("/api/v1/deals?limit=0", headers=admin_h), 422, "validation_error")
    assert "limit" in err["fields"]
    error_of(client.get("/api/v1/deals?limit=ten", headers=admin_h), 400, "bad_request")
    for cursor in ("!!!", "bm9wZQ", "eyJrIjogImEifQ"):
        err = error_of(client.get(f"/api/v1/deals?cursor={cursor}", headers=admin_h), 400, "bad_request")
        assert "cursor" in err["fields"]


def test_users_and_me(client, admin_h, rep_h, admin, rep, runtime):
    from kanban.services.users import system_user

    with runtime.sessions() as s, s.begin():
        system_user(s)
    me = client.get("/api/v1/me", headers=rep_h).json()
    assert me == {"id": rep.id, "email": "rep@example.com", "name": "Rex Rep", "role": "rep",
                  "department_id": rep.department_id, "phone": "+15550001", "active": True, "language": None,
                  "time_zone": None}
    body = client.get("/api/v1/users", headers=admin_h).json()
    assert [u["email"] for u in body["items"]] == ["admin@example.com", "rep@example.com"]
    assert all("password_hash" not in u for u in body["items"])
    page1 = client.get("/api/v1/users?limit=1", headers=admin_h).json()
    page2 = client.get("/api/v1/users", params={"limit": 1, "cursor": page1["next"]}, headers=admin_h).json()
    assert [u["id"] for u in page1["items"] + page2["items"]] == [admin.id, rep.id]
    assert page2["next"] is None


def test_out_of_range_numbers_are_client_errors(client, admin_h, pipeline, make_deal):
    big = 10**20
    for url in (f"/api/v1/deals/{big}", f"/api/v1/deals/{2**31}/timeline", f"/api/v1/pipelines/{big}"):
        error_of(client.get(url, headers=admin_h), 404, "not_found")
    err = error_of(client.get(f"/api/v1/deals?stage_id={big}", headers=admin_h), 422, "validation_error")
    assert err["fields"] == {"stage_id": "is out of range"}
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": "x", "pipeline_id": big, "stage_id": -big, "responsible_id": 2**31}), 422, "validation_error")
    assert err["fields"] == {"pipeline_id": "is out of range", "stage_id": "is out of range",
                             "responsible_id": "is out of range"}
    err = error_of(client.post("/api/v1/deals", headers=admin_h, json={
        "title": "x", "pipeline_id": pipeline.id, "amount": 2**63}), 422, "validation_error")
    assert err["fields"] == {"amount": "is out of range"}
    rich = client.post("/api/v1/deals", headers=admin_h, json={"title": "Big", "pipeline_id": pipeline.id,
                                                               "amount": 5 * 10**12})
    assert rich.status_code == 201 and rich.json()["amount"] == 5 * 10**12
    deal_id = make_deal()
    err = error_of(client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h, json={"stage_id": 1, "version": big}),
                   422, "validation_error")
    assert err["fields"] == {"version": "is out of range"}
    error_of(client.delete(f"/api/v1/stages/{pipeline.stages[0].id}?move_to={big}", headers=admin_h),
             422, "validation_error")
