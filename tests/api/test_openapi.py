"""The OpenAPI document is valid and lists exactly the app's /api/v1 routes, plug-ins included."""

from __future__ import annotations

from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from kanban.web.api.base import Call, endpoint
from kanban.web.api.openapi import api_routes
from kanban.web.api.schema import INT, obj
from kanban.web.app import create_app


def _documented(doc):
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def _routed(app):
    return {(method, path.replace(":int", "")) for path, method, _ in api_routes(list(app.routes))}


def test_document_matches_routes_and_is_valid(client, app):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert _documented(doc) == _routed(app)
    for needed in [("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("GET", "/api/v1/pipelines"),
                   ("POST", "/api/v1/pipelines"), ("POST", "/api/v1/pipelines/{pipeline_id}/stages"),
                   ("POST", "/api/v1/deals"), ("GET", "/api/v1/deals"), ("GET", "/api/v1/deals/{deal_id}"),
                   ("PATCH", "/api/v1/deals/{deal_id}"), ("POST", "/api/v1/deals/{deal_id}/move"),
                   ("GET", "/api/v1/deals/{deal_id}/timeline")]:
        assert needed in _documented(doc)
    move = doc["paths"]["/api/v1/deals/{deal_id}/move"]["post"]
    assert move["requestBody"]["content"]["application/json"]["schema"]["required"] == ["stage_id"]
    assert {"200", "401", "404", "409", "422"} <= set(move["responses"])
    assert move["parameters"][0] == {"name": "deal_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    assert "Deal" in doc["components"]["schemas"]


def test_routes_added_by_plugins_appear(runtime):
    @endpoint("Plug-in thing", status=201, admin=True, body=obj({"n": INT}, ["n"]))
    def make_thing(call: Call) -> dict:
        return {"n": call.body()["n"]}

    async def undeclared(request):
        """Some older plug-in endpoint."""

    runtime.routes.append(Route("/api/v1/things/{thing_id:int}", make_thing, methods=["POST"]))
    runtime.routes.append(Route("/api/v1/legacy", undeclared, methods=["GET", "DELETE"]))
    app = create_app(runtime)
    doc = TestClient(app).get("/api/openapi.json").json()
    validate(doc)
    assert _documented(doc) == _routed(app)
    thing = doc["paths"]["/api/v1/things/{thing_id}"]["post"]
    assert thing["summary"] == "Plug-in thing" and "201" in thing["responses"] and "403" in thing["responses"]
    assert doc["paths"]["/api/v1/legacy"]["delete"]["summary"] == "Some older plug-in endpoint."
