"""Server-side sessions (issue 8, vulnerability 2): the cookie is a random id; logout, password change, "end my
other sessions" and the idle/absolute timeouts end sessions for good; login is throttled without enumeration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from kanban import clock, logins
from kanban.logins import UserSession
from kanban.security import hash_token, verify_password
from tests.conftest import csrf_of, login, token_for


def _browser(app: Any) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def _rows(runtime: Any) -> list[UserSession]:
    with runtime.sessions() as s:
        return list(s.query(UserSession).order_by(UserSession.id))


def test_the_cookie_is_only_a_random_id_whose_hash_is_stored(client, runtime, rep):
    login(client, rep.email)
    value = client.cookies["kanban_session"]
    [row] = _rows(runtime)
    assert row.token_hash == hash_token(value) and value not in row.token_hash and len(value) >= 40
    assert "." not in value  # not a signed payload: nothing readable inside
    state = client.cookies.get("kanban_state", "")
    with runtime.sessions() as s:
        password_hash = s.get(type(rep), rep.id).password_hash
    assert password_hash[-16:] not in value + state


def test_logout_ends_the_session_for_good_even_for_a_copied_cookie(client, app, runtime, rep):
    login(client, rep.email)
    stolen = client.cookies["kanban_session"]
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert _rows(runtime) == []
    thief = _browser(app)
    thief.cookies.set("kanban_session", stolen)
    assert thief.get("/board", follow_redirects=False).status_code == 303


def test_sessions_page_lists_and_ends_other_sessions(app, runtime, rep):
    laptop, phone = _browser(app), _browser(app)
    login(laptop, rep.email)
    phone.headers["User-Agent"] = "PhoneBrowser/1.0"
    login(phone, rep.email)
    page = laptop.get("/account/sessions")
    assert page.status_code == 200 and "PhoneBrowser/1.0" in page.text and "this session" in page.text
    assert 'href="/account/sessions"' in laptop.get("/board").text  # in the user menu
    phone_row = [r for r in _rows(runtime) if r.user_agent == "PhoneBrowser/1.0"][0]
    ended = laptop.post(f"/account/sessions/{phone_row.id}/end", data={"csrf_token": csrf_of(laptop)})
    assert ended.status_code == 200 and "Session ended" in ended.text
    assert phone.get("/board", follow_redirects=False).status_code == 303
    login(phone, rep.email)
    laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_of(laptop)})
    assert phone.get("/board", follow_redirects=False).status_code == 303
    assert laptop.get("/board").status_code == 200 and len(_rows(runtime)) == 1


def test_another_users_session_cannot_be_ended(app, runtime, rep, admin):
    mine, theirs = _browser(app), _browser(app)
    login(mine, rep.email)
    login(theirs, admin.email)
    admin_row = [r for r in _rows(runtime) if r.user_id == admin.id][0]
    response = mine.post(f"/account/sessions/{admin_row.id}/end", data={"csrf_token": csrf_of(mine)})
    assert response.status_code == 404 and theirs.get("/board").status_code == 200


def test_password_change_ends_other_sessions_and_keeps_this_one(app, runtime, rep):
    here, elsewhere = _browser(app), _browser(app)
    login(here, rep.email)
    login(elsewhere, rep.email)
    wrong = here.post("/account/password", data={"csrf_token": csrf_of(here), "current_password": "nope",
                                                 "new_password": "new-password-1"})
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    assert elsewhere.get("/board").status_code == 200
    done = here.post("/account/password", data={"csrf_token": csrf_of(here), "current_password": "password123",
                                                "new_password": "new-password-1"})
    assert done.status_code == 200 and "Password changed" in done.text
    assert here.get("/board").status_code == 200
    assert elsewhere.get("/board", follow_redirects=False).status_code == 303
    with runtime.sessions() as s:
        assert verify_password(s.get(type(rep), rep.id).password_hash, "new-password-1")


@pytest.mark.parametrize(("field", "age"), [("last_seen_at", timedelta(hours=12, minutes=1)),
                                            ("created_at", timedelta(days=14, minutes=1))])
def test_idle_and_absolute_timeouts(client, runtime, rep, field, age):
    login(client, rep.email)
    assert client.get("/board").status_code == 200
    with runtime.sessions() as s, s.begin():
        row = s.query(UserSession).one()
        row.last_seen_at = clock.now() - timedelta(minutes=5)
        setattr(row, field, clock.now() - age)
    assert client.get("/board", follow_redirects=False).status_code == 303
    login(client, rep.email)  # the expired row is cleaned up at the next login
    assert len(_rows(runtime)) == 1 and client.get("/board").status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"KANBAN_SESSION_IDLE_HOURS": "1"}])
def test_idle_timeout_is_a_setting(client, runtime, rep):
    login(client, rep.email)
    with runtime.sessions() as s, s.begin():
        s.query(UserSession).one().last_seen_at = clock.now() - timedelta(minutes=61)
    assert client.get("/board", follow_redirects=False).status_code == 303


def test_end_user_sessions_service(app, runtime, rep, admin):
    a, b, c = _browser(app), _browser(app), _browser(app)
    login(a, rep.email)
    login(b, rep.email)
    login(c, admin.email)
    with runtime.sessions() as s, s.begin():
        assert logins.end_user_sessions(s, rep.id) == 2
    assert a.get("/board", follow_redirects=False).status_code == 303
    assert b.get("/board", follow_redirects=False).status_code == 303
    assert c.get("/board").status_code == 200


def test_api_lists_and_ends_my_sessions(app, client, runtime, rep, admin):
    browser, other = _browser(app), _browser(app)
    login(browser, rep.email)
    login(other, admin.email)
    headers = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    items = client.get("/api/v1/sessions", headers=headers).json()["items"]
    assert [i["id"] for i in items] == [r.id for r in _rows(runtime) if r.user_id == rep.id]
    assert set(items[0]) == {"id", "user_agent", "ip", "created_at", "last_seen_at"}
    admin_row = [r for r in _rows(runtime) if r.user_id == admin.id][0]
    assert client.delete(f"/api/v1/sessions/{admin_row.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/sessions/{items[0]['id']}", headers=headers).status_code == 204
    assert browser.get("/board", follow_redirects=False).status_code == 303
    assert other.get("/board").status_code == 200


def _try(client: Any, email: str, password: str = "wrong-password") -> Any:
    token = csrf_of(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_login_is_throttled_per_account_without_revealing_accounts(client, rep):
    answers = {email: [_try(client, email).status_code for _ in range(6)]
               for email in (rep.email, "nobody@example.com")}
    assert answers[rep.email] == answers["nobody@example.com"] == [400] * 5 + [429]
    blocked = _try(client, rep.email, "password123")  # even the right password waits
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed logins" in blocked.text


def test_login_is_throttled_per_ip(client, runtime):
    for i in range(logins.IP_THROTTLE.limit):
        assert _try(client, f"user{i}@example.com").status_code == 400
    assert _try(client, "fresh@example.com").status_code == 429


def test_a_successful_login_clears_the_account_failures(client, rep):
    for _ in range(4):
        _try(client, rep.email)
    login(client, rep.email)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert [_try(client, rep.email).status_code for _ in range(4)] == [400] * 4
