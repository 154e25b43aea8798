"""The role × scope matrix, swept over every route that reads or changes deals (API and pages).

For each scope of the rep role, every deal-reading route must show exactly the deals in scope (404 for one
deal out of scope, absent from lists) and every deal-writing route must allow exactly the deals in scope
(403 for a deal the rep may read but not change). A route declared `deal:<action>` that is missing from the
tables below fails test_every_deal_route_is_swept.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kanban.models import Chat, ChatMember, ChatMessage, EmailMessage, FeedPost, Invoice, Notification, SmsMessage
from kanban.web.access import access_of
from tests.access.conftest import set_scopes
from tests.conftest import csrf_of, login

OWNERS = ("rep", "mate", "other", "nobody")
IN_SCOPE = {"none": set(), "own": {"rep"}, "department": {"rep", "mate"}, "all": set(OWNERS)}
SCOPES = list(IN_SCOPE)

# One-deal reads: (method, route path) -> URL for a deal id. Out of scope: 404; in scope: 200.
ONE_DEAL_READS = {
    ("GET", "/api/v1/deals/{deal_id:int}"): "/api/v1/deals/{id}",
    ("GET", "/api/v1/deals/{deal_id:int}/timeline"): "/api/v1/deals/{id}/timeline",
    ("GET", "/api/v1/deals/{deal_id:int}/runs"): "/api/v1/deals/{id}/runs",
    ("GET", "/api/v1/deals/{deal_id:int}/inbound-events"): "/api/v1/deals/{id}/inbound-events",
    ("GET", "/api/v1/invoices"): "/api/v1/invoices?deal_id={id}",
    ("GET", "/deals/{deal_id:int}"): "/deals/{id}",
    ("GET", "/deals/{deal_id:int}/live"): "/deals/{id}/live",
    ("GET", "/api/v1/deals/{deal_id:int}/notes"): "/api/v1/deals/{id}/notes",
    ("GET", "/api/v1/deals/{deal_id:int}/products"): "/api/v1/deals/{id}/products",
    ("GET", "/api/v1/deals/{deal_id:int}/documents"): "/api/v1/deals/{id}/documents",
    ("GET", "/api/v1/deals/{deal_id:int}/decisions"): "/api/v1/deals/{id}/decisions",
}
# Writes that only need the deal to be readable (a note on a colleague's deal): out of scope 404, else done.
READ_WRITES = {("POST", "/api/v1/deals/{deal_id:int}/notes"), ("POST", "/deals/{deal_id:int}/notes")}
# Lists: route -> (URL, how to read the deal ids of what it shows).
LISTS = {
    ("GET", "/api/v1/deals"): ("/api/v1/deals", lambda r: [i["id"] for i in r.json()["items"]]),
    ("GET", "/api/v1/feed"): ("/api/v1/feed", lambda r: [i["deal_id"] for i in r.json()["items"]]),
    ("GET", "/api/v1/chats"): ("/api/v1/chats", lambda r: [i["deal_id"] for i in r.json()["items"]]),
    ("GET", "/api/v1/outbox/emails"): ("/api/v1/outbox/emails", lambda r: [i["deal_id"] for i in r.json()["items"]]),
    ("GET", "/api/v1/outbox/sms"): ("/api/v1/outbox/sms", lambda r: [i["deal_id"] for i in r.json()["items"]]),
    ("GET", "/api/v1/notifications"): ("/api/v1/notifications", lambda r: [i["deal_id"] for i in r.json()["items"]]),
    ("GET", "/board"): ("/board", lambda r: [c.id for col in r.context["columns"] for c in col.cards]),
    ("GET", "/board/columns/{stage_id:int}"): ("/board/columns/{stage}",
                                               lambda r: [c.id for c in r.context["col"].cards]),
    ("GET", "/board/columns/{stage_id:int}/more"): ("/board/columns/{stage}/more?cursor=-1e300:0",
                                                    lambda r: [c.id for c in r.context["cards"]]),
    ("GET", "/feed"): ("/feed", lambda r: [p.deal_id for p in r.context["items"]]),
    ("GET", "/chats"): ("/chats", lambda r: [c.deal_id for c in r.context["items"]]),
    ("GET", "/mailbox"): ("/mailbox", lambda r: [e.deal_id for e in r.context["items"]]),
    ("GET", "/sms"): ("/sms", lambda r: [m.deal_id for m in r.context["items"]]),
    ("GET", "/notifications"): ("/notifications", lambda r: [n.deal_id for n in r.context["items"]]),
}
# Records about one deal, reached by their own id: route -> (URL with {chat}/{email}).
LINKED_READS = {
    ("GET", "/api/v1/chats/{chat_id:int}"): "/api/v1/chats/{chat}",
    ("GET", "/api/v1/chats/{chat_id:int}/messages"): "/api/v1/chats/{chat}/messages",
    ("GET", "/chats/{chat_id:int}"): "/chats/{chat}",
    ("GET", "/mailbox/{email_id:int}"): "/mailbox/{email}",
}
# The live stream: out of scope is a 404 before any stream starts (in-scope notices: test_live_access.py).
STREAMS = {("GET", "/events"): "/events?deal_id={id}"}
WRITES = {
    ("PATCH", "/api/v1/deals/{deal_id:int}"): "edit",
    ("POST", "/api/v1/deals/{deal_id:int}/move"): "move",
    ("DELETE", "/api/v1/deals/{deal_id:int}"): "delete",
    ("POST", "/api/v1/deals"): "create",
    ("POST", "/deals/{deal_id:int}"): "edit",
    ("POST", "/deals/{deal_id:int}/move"): "move",
    ("POST", "/api/v1/deals/bulk-move"): "move",
    ("POST", "/board/bulk-move"): "move",
    ("POST", "/board/deals"): "create",
    **{("POST", f"{prefix}/deals/{{deal_id:int}}/{what}"): "edit"
       for prefix in ("", "/api/v1") for what in ("won", "lost", "reopen", "emails", "documents")},
    ("POST", "/deals/{deal_id:int}/products"): "edit",
    ("PUT", "/api/v1/deals/{deal_id:int}/products"): "edit",
    # A preview writes nothing, but shows what a move would do: only for who may move the deal.
    ("POST", "/api/v1/deals/{deal_id:int}/preview-move"): "move",
    ("GET", "/deals/{deal_id:int}/preview-move"): "move",
}
SWEPT = {*ONE_DEAL_READS, *LISTS, *LINKED_READS, *STREAMS, *WRITES, *READ_WRITES}


def test_every_deal_route_is_swept(app):
    declared = {(m, r.path) for r in app.routes if str(access_of(getattr(r, "endpoint", None))).startswith("deal:")
                for m in (r.methods or ()) if m != "HEAD"}
    assert declared - SWEPT == set(), "add the new deal route to the matrix"
    assert SWEPT - declared == set()


@pytest.fixture
def linked(runtime, team) -> dict[str, dict[str, int]]:
    """For each deal: an email, an SMS, a chat with a message (the rep is a member), a feed post for everyone,
    a notification to the rep and an invoice. Returns the chat and email ids by owner."""
    out: dict[str, dict[str, int]] = {"chat": {}, "email": {}}
    rep = team.users["rep"].id
    with runtime.sessions() as s, s.begin():
        for owner, deal_id in team.deals.items():
            email = EmailMessage(deal_id=deal_id, kind="client", from_address="crm@x.test", to_address="c@x.test",
                                 subject=f"About {owner}", status="captured")
            chat = Chat(name=f"Chat {owner}", deal_id=deal_id)
            s.add_all([email, chat, SmsMessage(deal_id=deal_id, to_phone="+1555", text="hi", status="logged"),
                       FeedPost(deal_id=deal_id, title=f"Post {owner}", text="x", recipients=["everyone"]),
                       Notification(user_id=rep, deal_id=deal_id, text=f"Note {owner}"),
                       Invoice(deal_id=deal_id, amount=1000, currency="USD")])
            s.flush()
            s.add_all([ChatMember(chat_id=chat.id, user_id=rep), ChatMessage(chat_id=chat.id, text="hello")])
            out["chat"][owner], out["email"][owner] = chat.id, email.id
    return out


def _rep_client(client, team) -> Any:
    login(client, team.users["rep"].email)
    client.headers.update(team.h("rep"))
    return client


@pytest.mark.parametrize("scope", SCOPES)
def test_read_scope_on_every_reading_route(client, runtime, team, linked, scope):
    set_scopes(runtime, "rep", read=scope)
    rep = _rep_client(client, team)
    allowed = {team.deals[o] for o in IN_SCOPE[scope]}
    for owner, deal_id in team.deals.items():
        want = 200 if owner in IN_SCOPE[scope] else 404
        for route, url in ONE_DEAL_READS.items():
            assert rep.get(url.format(id=deal_id)).status_code == want, (route, owner)
        for route, url in LINKED_READS.items():
            got = rep.get(url.format(chat=linked["chat"][owner], email=linked["email"][owner])).status_code
            assert got == want, (route, owner)
        for _, path in sorted(READ_WRITES):
            response = _note(rep, path, deal_id)
            assert _outcome(response) == ("ok" if want == 200 else "missing"), (path, owner)
        if want == 404:
            for route, url in STREAMS.items():
                assert rep.get(url.format(id=deal_id)).status_code == 404, (route, owner)
    stage = team.pipeline.stages[0].id
    for route, (url, ids_of) in LISTS.items():
        response = rep.get(url.format(stage=stage))
        assert response.status_code == 200, route
        assert set(ids_of(response)) == allowed, route


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("action", ["edit", "move", "delete"])
def test_write_scope_on_every_writing_route(client, runtime, team, action, scope):
    set_scopes(runtime, "rep", read="department", **{action: scope})
    rep = _rep_client(client, team)
    csrf = csrf_of(rep)
    target = team.pipeline.stages[1].id
    for route, route_action in WRITES.items():
        if route_action != action or route[1] in ("/api/v1/deals", "/board/deals"):
            continue
        for owner in OWNERS:
            deal_id = team.deals[owner]
            if action == "delete" and not _exists(rep, deal_id):
                continue  # deleted by the previous route
            response = _write(rep, route, deal_id, target, csrf)
            readable = owner in IN_SCOPE["department"]
            want = "ok" if owner in IN_SCOPE[scope] and readable else ("forbidden" if readable else "missing")
            assert _outcome(response) == want, (route, owner, response.status_code)


def _note(rep: Any, path: str, deal_id: int) -> Any:
    if path.startswith("/api/"):
        return rep.post(f"/api/v1/deals/{deal_id}/notes", json={"text": "Seen it"})
    return rep.post(f"/deals/{deal_id}/notes", data={"text": "Seen it", "csrf_token": csrf_of(rep)},
                    follow_redirects=False)


def _exists(rep: Any, deal_id: int) -> bool:
    return rep.get(f"/api/v1/deals/{deal_id}").status_code == 200


def _write(rep: Any, route: tuple[str, str], deal_id: int, target: int, csrf: str) -> Any:
    method, path = route
    if path.endswith("/bulk-move"):
        return _bulk(rep, path, deal_id, target, csrf)
    what = path.rsplit("/", 1)[1]
    if what in ("won", "lost", "reopen", "emails", "documents", "products"):
        # A deal without a client address refuses the email with a 422: past the access check, so allowed.
        body = {"emails": {"subject": "Hello", "body": "Hi"}, "lost": {"reason": "Too expensive"},
                "documents": {"type": "quote"}, "products": {"items": []}}.get(what, {})
        url = path.replace("{deal_id:int}", str(deal_id))
        if path.startswith("/api/"):
            return rep.request(method, url, json=body)
        return rep.post(url, data={**body, "csrf_token": csrf}, follow_redirects=False)
    if path.endswith("/preview-move") and method == "GET":
        return rep.get(f"/deals/{deal_id}/preview-move?stage_id={target}")
    if path.startswith("/api/"):
        body = {"title": "Changed"} if method == "PATCH" else {"stage_id": target}
        if method == "DELETE":
            return rep.delete(f"/api/v1/deals/{deal_id}")
        return rep.request(method, path.replace("{deal_id:int}", str(deal_id)), json=body)
    if path.endswith("/move"):
        return rep.post(f"/deals/{deal_id}/move", data={"stage_id": target, "csrf_token": csrf},
                        follow_redirects=False)
    return rep.post(f"/deals/{deal_id}", data={"title": "Changed", "amount": "10", "currency": "USD",
                                               "csrf_token": csrf}, follow_redirects=False)


def _bulk(rep: Any, path: str, deal_id: int, target: int, csrf: str) -> Any:
    """A bulk move of one deal: 200 whatever happened, the deal's own outcome is in the reply (as a status here)."""
    if path.startswith("/api/"):
        response = rep.post(path, json={"deal_ids": [deal_id], "stage_id": target})
        assert response.status_code == 200, response.text
        result = response.json()["results"][0]["result"]
    else:
        response = rep.post(path, data={"deal_ids": str(deal_id), "stage_id": target, "csrf_token": csrf},
                            headers={"HX-Request": "true"})
        assert response.status_code == 200, response.text
        result = next(r for r, n in response.context["bulk_counts"].items() if n)
    return SimpleNamespace(status_code={"moved": 200, "unchanged": 200, "forbidden": 403}.get(result, 404))


def _outcome(response: Any) -> str:
    if response.status_code in (200, 201, 204, 303, 422):
        return "ok"
    return {403: "forbidden", 404: "missing"}.get(response.status_code, f"status {response.status_code}")


@pytest.mark.parametrize("scope", SCOPES)
def test_create_scope_on_every_creating_route(client, runtime, team, scope):
    set_scopes(runtime, "rep", create=scope)
    rep = _rep_client(client, team)
    csrf = csrf_of(rep)
    stage = team.pipeline.stages[0].id
    for owner in ("rep", "mate", "other"):
        want = "ok" if owner in IN_SCOPE[scope] else "forbidden"
        responsible = team.users[owner].id
        api = rep.post("/api/v1/deals", json={"title": "New", "pipeline_id": team.pipeline.id,
                                               "responsible_id": responsible})
        page = rep.post("/board/deals", data={"title": "New", "stage_id": stage, "responsible_id": responsible,
                                              "csrf_token": csrf}, follow_redirects=False)
        assert (_outcome(api), _outcome(page)) == (want, want), owner


@pytest.mark.parametrize(("role", "sees", "changes"), [
    ("admin", set(OWNERS), set(OWNERS)),
    ("supervisor", {"rep", "mate"}, {"rep", "mate"}),
    ("rep", set(OWNERS), {"rep"}),
])
def test_built_in_roles(client, team, role, sees, changes):
    h = team.h(role)
    listed = {i["id"] for i in client.get("/api/v1/deals", headers=h).json()["items"]}
    assert listed == {team.deals[o] for o in sees}
    for owner, deal_id in team.deals.items():
        response = client.patch(f"/api/v1/deals/{deal_id}", headers=h, json={"title": f"By {role}"})
        want = "ok" if owner in changes else ("forbidden" if owner in sees else "missing")
        assert _outcome(response) == want, owner


def test_refused_changes_explain_themselves_on_pages(client, team):
    rep = _rep_client(client, team)
    csrf, mate = csrf_of(rep), team.deals["mate"]
    moved = rep.post(f"/deals/{mate}/move", data={"stage_id": team.pipeline.stages[1].id, "csrf_token": csrf})
    assert moved.status_code == 403
    assert moved.context["message"] == "The move was refused: your role may not move this deal."
    dragged = rep.post(f"/deals/{mate}/move", headers={"HX-Request": "true", "X-CSRF-Token": csrf},
                       data={"stage_id": team.pipeline.stages[1].id})
    assert dragged.status_code == 403 and "your role may not move this deal" in dragged.text
    edited = rep.post(f"/deals/{mate}", data={"title": "Mine now", "csrf_token": csrf})
    assert edited.status_code == 403
    assert edited.context["message"] == "The deal was not saved: your role may not edit this deal."
