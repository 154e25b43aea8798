"""Hardening (issue 8): cache and permissions headers, the Origin check, 503 on transient database errors,
an accurate OpenAPI document (204s, 403s, limit, Allow on 405)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from kanban.models import Deal
from tests.conftest import csrf_of


def test_pages_and_api_are_not_cached_and_features_are_off(admin_web, runtime, admin):
    from tests.conftest import token_for

    for path in ("/board", "/account/sessions", "/login"):
        response = admin_web.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        assert "camera=()" in response.headers["Permissions-Policy"]
    api = admin_web.get("/api/v1/me", headers={"Authorization": f"Bearer {token_for(runtime, admin.email)}"})
    assert api.headers["Cache-Control"] == "no-store"
    assert "no-store" not in admin_web.get("/static/app.css").headers.get("Cache-Control", "")


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Origin": "null"}])
def test_state_changing_requests_from_another_origin_are_refused(rep_web, runtime, deals, headers):
    token = csrf_of(rep_web)  # even with a valid token
    response = rep_web.post(f"/deals/{deals[0].id}", data={"csrf_token": token, "title": "Hijacked"},
                            headers=headers)
    assert response.status_code == 403 and "Cross-origin" in response.text
    with runtime.sessions() as s:
        assert s.get(Deal, deals[0].id).title == "Acme renewal"


def test_same_origin_requests_pass_the_origin_check(rep_web, deals):
    token = csrf_of(rep_web)
    response = rep_web.post("/notifications/read-all", data={"csrf_token": token},
                            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                            follow_redirects=False)
    assert response.status_code == 303


class _Dropped(Exception):
    sqlstate = "40001"  # serialization failure


@pytest.mark.parametrize("invalidated", [False, True])
def test_transient_database_errors_are_503_with_retry_after(admin_api, admin_web, monkeypatch, invalidated):
    import kanban.web.api.users as users_api
    import kanban.web.board as board

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, _Dropped("could not serialize access"),
                               connection_invalidated=invalidated)

    monkeypatch.setattr(users_api, "user_view", fail)
    api = admin_api.get("/api/v1/me")
    assert api.status_code == 503 and api.headers["Retry-After"] == "2"
    assert api.json()["error"]["code"] == "unavailable"
    monkeypatch.setattr(board, "board_context", fail)
    page = admin_web.get("/board")
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"


def test_openapi_documents_204_403_and_the_limit(client):
    doc = client.get("/api/openapi.json").json()
    delete = doc["paths"]["/api/v1/sessions/{session_id}"]["delete"]
    assert "204" in delete["responses"] and "content" not in delete["responses"]["204"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op["security"]:
                assert "403" in op["responses"] and "503" in op["responses"], (method, path)
    limit = next(p for p in doc["paths"]["/api/v1/deals"]["get"]["parameters"] if p["name"] == "limit")
    assert "maximum" not in limit["schema"] and "500" in limit["description"]


def test_405_names_every_allowed_method(admin_api, pipeline):
    response = admin_api.put("/api/v1/deals")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    stage = admin_api.get(f"/api/v1/stages/{pipeline.stages[0].id}")
    assert stage.status_code == 405 and stage.headers["Allow"] == "DELETE, PATCH"
