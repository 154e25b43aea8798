"""Users admin (invite with a set-password link, role, department, deactivate), roles, own notifications."""

from __future__ import annotations

import re

from sqlalchemy import select

from kanban.models import ApiToken, Department, EmailMessage, Notification
from tests.access.conftest import set_scopes
from tests.conftest import csrf_of, login


def _invitation_link(runtime, email: str) -> str:
    with runtime.sessions() as s:
        row = s.scalars(select(EmailMessage).where(EmailMessage.to_address == email)).one()
        assert row.kind == "invitation" and row.deal_id is None
        return re.search(r"http://testserver(/invitation/\S+)", row.body_text).group(1)


def test_admin_invites_and_the_link_sets_the_password_once(client, runtime, team):
    with runtime.sessions() as s:
        sales = s.scalars(select(Department).where(Department.name == "Sales")).one().id
    created = client.post("/api/v1/users", headers=team.h("admin"), json={
        "email": "New.Hire@Example.com", "name": "Nina New", "role": "supervisor", "department_id": sales})
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("email", "role", "department_id", "active")} == {
        "email": "new.hire@example.com", "role": "supervisor", "department_id": sales, "active": True}
    link = _invitation_link(runtime, "new.hire@example.com")
    page = client.get(link)
    assert page.status_code == 200 and "Nina New" in page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    short = client.post(link, data={"password": "short", "password2": "short", "csrf_token": csrf})
    assert short.status_code == 400 and "8 characters" in short.text
    done = client.post(link, data={"password": "a-good-password", "password2": "a-good-password",
                                   "csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/v1/me").status_code == 401 and client.get("/board").status_code == 200  # logged in
    assert client.get(link).status_code == 404  # used up
    client.cookies.clear()
    login(client, "new.hire@example.com", "a-good-password")


def test_invitation_links_expire_and_cannot_be_forged(client, runtime, team, monkeypatch):
    client.post("/api/v1/users", headers=team.h("admin"), json={"email": "late@example.com", "name": "Late",
                                                                 "role": "rep"})
    link = _invitation_link(runtime, "late@example.com")
    assert client.get(link[:-3] + "abc").status_code == 404
    monkeypatch.setattr("kanban.services.users.INVITE_MAX_AGE", -1)
    assert client.get(link).status_code == 404


def test_user_admin_is_for_admins_and_validated(client, team):
    rep, admin = team.h("rep"), team.h("admin")
    new = {"email": "x@example.com", "name": "X", "role": "rep"}
    assert client.post("/api/v1/users", headers=rep, json=new).status_code == 403
    mate = team.users["mate"].id
    assert client.patch(f"/api/v1/users/{mate}", headers=rep, json={"active": False}).status_code == 403
    bad = client.post("/api/v1/users", headers=admin, json={**new, "role": "wizard", "department_id": 999999})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) >= {"department_id"}
    assert client.post("/api/v1/users", headers=admin, json={**new, "role": "wizard"}).status_code == 422
    dup = client.post("/api/v1/users", headers=admin, json={**new, "email": "REP@example.com"})
    assert dup.status_code == 422 and "email" in dup.json()["error"]["fields"]
    me = client.patch(f"/api/v1/users/{team.users['admin'].id}", headers=admin, json={"active": False})
    assert me.status_code == 422
    assert client.patch("/api/v1/users/999999", headers=admin, json={"role": "rep"}).status_code == 404


def test_deactivating_revokes_tokens_and_ends_sessions(client, runtime, team):
    login(client, team.users["rep"].email)
    assert client.get("/board").status_code == 200
    changed = client.patch(f"/api/v1/users/{team.users['rep'].id}", headers=team.h("admin"),
                           json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    with runtime.sessions() as s:
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == team.users["rep"].id)).all() == []
    assert client.get("/api/v1/me", headers=team.h("rep")).status_code == 401
    assert client.get("/board", follow_redirects=False).status_code == 303  # back to the login page


def test_role_change_applies_at_the_next_request(client, team):
    mate_deal = team.deals["mate"]
    assert client.patch(f"/api/v1/deals/{mate_deal}", headers=team.h("rep"), json={"title": "x"}).status_code == 403
    client.patch(f"/api/v1/users/{team.users['rep'].id}", headers=team.h("admin"), json={"role": "supervisor"})
    assert client.patch(f"/api/v1/deals/{mate_deal}", headers=team.h("rep"), json={"title": "x"}).status_code == 200


def test_roles_api(client, team):
    roles = {r["name"]: r["scopes"] for r in client.get("/api/v1/roles", headers=team.h("rep")).json()["items"]}
    assert roles["rep"] == {"read": "all", "create": "all", "edit": "own", "move": "own", "delete": "own"}
    assert set(roles["supervisor"].values()) == {"department"} and set(roles["admin"].values()) == {"all"}
    other_deal = team.deals["other"]
    assert client.delete(f"/api/v1/deals/{other_deal}", headers=team.h("rep")).status_code == 403
    refused = client.patch("/api/v1/roles/rep", headers=team.h("rep"), json={"scopes": {"delete": "all"}})
    assert refused.status_code == 403
    changed = client.patch("/api/v1/roles/rep", headers=team.h("admin"), json={"scopes": {"delete": "all"}})
    assert changed.status_code == 200 and changed.json()["scopes"]["delete"] == "all"
    assert client.delete(f"/api/v1/deals/{other_deal}", headers=team.h("rep")).status_code == 204
    assert client.get(f"/api/v1/deals/{other_deal}", headers=team.h("admin")).status_code == 404
    for bad in ({"scopes": {"delete": "everything"}}, {"scopes": {"fly": "all"}}):
        assert client.patch("/api/v1/roles/rep", headers=team.h("admin"), json=bad).status_code == 422
    assert client.patch("/api/v1/roles/admin", headers=team.h("admin"),
                        json={"scopes": {"read": "own"}}).status_code == 422
    assert client.patch("/api/v1/roles/nope", headers=team.h("admin"), json={"scopes": {}}).status_code == 404


def test_admin_pages_for_users_and_roles(client, runtime, team):
    login(client, team.users["rep"].email)
    assert client.get("/admin/users").status_code == 403 and client.get("/admin/roles").status_code == 403
    client.cookies.clear()
    login(client, team.users["admin"].email)
    csrf = csrf_of(client)
    page = client.get("/admin/users")
    assert page.status_code == 200 and "Otto Other" in page.text
    invited = client.post("/admin/users", data={"email": "web@example.com", "name": "Web Hire", "role": "rep",
                                                "csrf_token": csrf})
    assert invited.status_code == 200 and invited.context["message"] == "Invitation sent."
    assert _invitation_link(runtime, "web@example.com")
    mate = team.users["mate"].id
    saved = client.post(f"/admin/users/{mate}", data={"role": "supervisor", "department_id": "",
                                                       "csrf_token": csrf})  # no "active": unticked
    assert saved.status_code == 200
    listed = {u["id"]: u for u in client.get("/api/v1/users", headers=team.h("admin")).json()["items"]}
    assert (listed[mate]["role"], listed[mate]["department_id"], listed[mate]["active"]) == ("supervisor", None, False)
    roles = client.post("/admin/roles/rep", data={"read": "own", "create": "own", "edit": "own", "move": "own",
                                                  "delete": "none", "csrf_token": csrf})
    assert "Role “rep” saved." in roles.text
    rep_role = next(r for r in roles.context["roles"] if r.name == "rep")
    assert rep_role.scopes["delete"] == "none" and rep_role.scopes["read"] == "own"


def test_reps_do_not_see_invitations_in_the_mailbox(client, team):
    client.post("/api/v1/users", headers=team.h("admin"), json={"email": "z@example.com", "name": "Z", "role": "rep"})
    assert client.get("/api/v1/outbox/emails", headers=team.h("rep")).json()["items"] == []
    assert len(client.get("/api/v1/outbox/emails", headers=team.h("admin")).json()["items"]) == 1


def test_everyone_reads_only_their_own_notifications(client, runtime, team):
    """Issue 14 item 4: the bell and the page show the reader's own, admins included; counts match."""
    admin, rep = team.users["admin"], team.users["rep"]
    with runtime.sessions() as s, s.begin():
        s.add_all([Notification(user_id=rep.id, text="for rep"), Notification(user_id=admin.id, text="for admin"),
                   Notification(user_id=admin.id, text="also for admin")])
    login(client, admin.email)
    page = client.get("/notifications")
    assert [n.text for n in page.context["items"]] == ["also for admin", "for admin"]
    assert page.context["unread"] == 2
    assert 'data-unread="2"' in client.get("/notifications/bell").text
    mine = page.context["items"][0].id
    csrf = csrf_of(client)
    assert client.post(f"/notifications/{mine}/read", data={"csrf_token": csrf}).status_code == 200
    assert 'data-unread="1"' in client.get("/notifications/bell").text
    set_scopes(runtime, "rep", read="own")  # unrelated: reading scope does not hide deal-less notifications
    assert [n["text"] for n in client.get("/api/v1/notifications", headers=team.h("rep")).json()["items"]] == [
        "for rep"]
