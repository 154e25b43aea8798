"""API: my browser sessions and my API tokens (list and end/revoke)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import logins
from kanban.errors import NotFoundError
from kanban.i18n import _
from kanban.logins import UserSession
from kanban.models import ApiToken
from kanban.services import users as svc
from kanban.web.api.base import Call, endpoint, iso, page
from kanban.web.api.schema import INT, STR, TIME, arr, component, nullable, obj

SESSION = component("Session", obj({
    "id": INT, "user_agent": STR, "ip": STR, "created_at": TIME, "last_seen_at": TIME,
}, ["id", "user_agent", "ip", "created_at", "last_seen_at"]))
TOKEN = component("ApiToken", obj({
    "id": INT, "name": STR, "created_at": TIME, "last_used_at": nullable(TIME), "expires_at": nullable(TIME),
}, ["id", "name", "created_at", "last_used_at", "expires_at"]))


def session_view(s: UserSession) -> dict[str, Any]:
    """A browser session as JSON (never its id's secret)."""
    return {"id": s.id, "user_agent": s.user_agent, "ip": s.ip, "created_at": iso(s.created_at),
            "last_seen_at": iso(s.last_seen_at)}


def token_view(t: ApiToken) -> dict[str, Any]:
    """An API token as JSON (never the token itself)."""
    return {"id": t.id, "name": t.name, "created_at": iso(t.created_at), "last_used_at": iso(t.last_used_at),
            "expires_at": iso(t.expires_at)}


@endpoint("My live browser sessions, most recently used first",
          response=obj({"items": arr(SESSION), "next": {"type": "null"}}, ["items", "next"]), access="authenticated")
def list_sessions(call: Call) -> dict[str, Any]:
    """All of them (a person has few): no paging."""
    timeouts = logins.Timeouts.of(call.request.app.state.runtime.settings)
    return page([session_view(s) for s in logins.list_sessions(call.session, call.user.id, timeouts)], None)


@endpoint("End one of my browser sessions", status=204, access="authenticated")
def end_session(call: Call) -> None:
    """404 when the session is not mine or already ended."""
    session_id = call.path_int("session_id")
    if not logins.end_session(call.session, call.user.id, session_id):
        raise NotFoundError(_("session %(session_id)s not found", session_id=session_id))


@endpoint("My API tokens", response=obj({"items": arr(TOKEN), "next": {"type": "null"}}, ["items", "next"]),
          access="authenticated")
def list_tokens(call: Call) -> dict[str, Any]:
    """Oldest first; expired tokens are listed until revoked."""
    return page([token_view(t) for t in svc.list_tokens(call.session, call.user.id)], None)


@endpoint("Revoke one of my API tokens", status=204, access="authenticated")
def revoke_token(call: Call) -> None:
    """404 when the token is not mine."""
    svc.revoke_token(call.session, call.path_int("token_id"), call.user.id)


routes = [
    Route("/api/v1/sessions", list_sessions, methods=["GET"]),
    Route("/api/v1/sessions/{session_id:int}", end_session, methods=["DELETE"]),
    Route("/api/v1/tokens", list_tokens, methods=["GET"]),
    Route("/api/v1/tokens/{token_id:int}", revoke_token, methods=["DELETE"]),
]
