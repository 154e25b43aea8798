"""API: the current user and the user directory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.routing import Route

from kanban.models import User
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import page_of
from kanban.web.api.views import USER, user_view


@endpoint("The user the bearer token belongs to", response=USER, access="authenticated")
def me(call: Call) -> dict[str, Any]:
    """The token's user."""
    return user_view(call.user)


@endpoint("List users (people, not the system actor)", response=page_of(USER), access="authenticated", params=[
    *PAGE_PARAMS,
    {"name": "active", "in": "query", "schema": {"type": "boolean"}, "description": "only active (true) or not"},
])
def list_users(call: Call) -> dict[str, Any]:
    """Users ordered by id."""
    stmt = select(User).where(User.role != "system")
    active = call.query_str("active")
    if active is not None:
        stmt = stmt.where(User.active.is_(active.lower() in ("1", "true", "yes")))
    rows, nxt = paginate(call, stmt, User.id)
    return page([user_view(u) for u in rows], nxt)


routes = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/users", list_users, methods=["GET"]),
]
