"""Bearer-token auth and the role matrix on every API endpoint."""

from __future__ import annotations

import pytest

from kanban.models import User
from kanban.web.api.openapi import api_routes
from tests.api.conftest import error_of

ADMIN_ONLY = {
    ("POST", "/api/v1/pipelines"),
    ("PATCH", "/api/v1/pipelines/{pipeline_id:int}"),
    ("POST", "/api/v1/pipelines/{pipeline_id:int}/stages"),
    ("PUT", "/api/v1/pipelines/{pipeline_id:int}/stages/order"),
    ("PATCH", "/api/v1/stages/{stage_id:int}"),
    ("DELETE", "/api/v1/stages/{stage_id:int}"),
}


def _core_endpoints(app):
    """The endpoints of the core resource modules (other modules test their own matrix)."""
    from kanban.web.api import deals, pipelines, users

    core = {id(r) for r in [*users.routes, *pipelines.routes, *deals.routes]}
    return [(m, p) for p, m, r in api_routes(list(app.routes)) if id(r) in core]


def _url(path: str) -> str:
    return path.replace("{pipeline_id:int}", "1").replace("{stage_id:int}", "1").replace("{deal_id:int}", "1")


def test_every_endpoint_needs_a_valid_token(client, app, admin):
    endpoints = _core_endpoints(app)
    assert len(endpoints) >= 14
    for method, path in endpoints:
        for headers in ({}, {"Authorization": "Bearer kb_not-a-real-token"}, {"Authorization": "Basic abc"}):
            response = client.request(method, _url(path), headers=headers, content=b"{malformed")
            error_of(response, 401, "unauthorized")


def test_rep_is_refused_on_admin_endpoints(client, app, rep_h, pipeline):
    for method, path in _core_endpoints(app):
        if (method, path) in ADMIN_ONLY:
            # Real ids and a valid body: the refusal is about the role, not a missing object.
            url = path.replace("{pipeline_id:int}", str(pipeline.id)).replace("{stage_id:int}",
                                                                               str(pipeline.stages[0].id))
            response = client.request(method, url, headers=rep_h, json={"name": "x", "stages": [{"name": "a"}]})
            error_of(response, 403, "forbidden")


def test_admin_only_set_is_what_the_document_declares(client, app):
    doc = client.get("/api/openapi.json").json()
    core = {(m, p.replace(":int", "")) for m, p in _core_endpoints(app)}
    declared = {(m.upper(), p) for p, ops in doc["paths"].items() for m, op in ops.items()
                if "403" in op["responses"] and (m.upper(), p) in core}
    assert {(m, p.replace(":int", "")) for m, p in ADMIN_ONLY} == declared


def test_rep_works_deals(client, rep_h, pipeline):
    created = client.post("/api/v1/deals", headers=rep_h, json={"title": "Rep deal", "pipeline_id": pipeline.id})
    assert created.status_code == 201
    deal = created.json()
    moved = client.post(f"/api/v1/deals/{deal['id']}/move", headers=rep_h,
                        json={"stage_id": pipeline.stages[1].id, "version": deal["version"]})
    assert moved.status_code == 200
    patched = client.patch(f"/api/v1/deals/{deal['id']}", headers=rep_h, json={"amount": 500})
    assert patched.status_code == 200 and patched.json()["amount"] == 500
    assert client.get("/api/v1/pipelines", headers=rep_h).status_code == 200
    assert client.get("/api/v1/users", headers=rep_h).status_code == 200


def test_deactivated_user_token_stops_working(client, runtime, rep, rep_h):
    assert client.get("/api/v1/me", headers=rep_h).status_code == 200
    with runtime.sessions() as s, s.begin():
        s.get(User, rep.id).active = False
    error_of(client.get("/api/v1/me", headers=rep_h), 401, "unauthorized")


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/deals/abc"])
def test_unknown_api_paths_are_json_404(client, admin_h, path):
    error_of(client.get(path, headers=admin_h), 404, "not_found")


def test_wrong_method_is_json_405(client, admin_h):
    error_of(client.put("/api/v1/deals", headers=admin_h, json={}), 405, "method_not_allowed")
