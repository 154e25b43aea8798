"""API: the current user, the user directory, and user administration (invite, change, deactivate)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.routing import Route

from kanban.i18n import LANGUAGES
from kanban.models import User
from kanban.services import users as svc
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import BOOL, INT, STR, nullable, obj, page_of
from kanban.web.api.views import USER, user_view

NEW_USER = obj({"email": STR, "name": STR, "role": STR, "department_id": nullable(INT)}, ["email", "name", "role"])
USER_CHANGES = obj({"role": STR, "active": BOOL, "department_id": nullable(INT), "time_zone": nullable(STR),
                    "language": nullable({"type": "string", "enum": list(LANGUAGES)})})
MY_CHANGES = obj({"language": nullable({"type": "string", "enum": list(LANGUAGES)})})


@endpoint("The user the bearer token belongs to", response=USER, access="authenticated")
def me(call: Call) -> dict[str, Any]:
    """The token's user."""
    return user_view(call.user)


@endpoint("Change my own settings (language: en, fr, it, or null for the company's)", body=MY_CHANGES,
          response=USER, access="authenticated")
def update_me(call: Call) -> dict[str, Any]:
    """The token's user after the change."""
    return user_view(svc.update_me(call.session, call.user, call.body()))


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


@endpoint("Invite a user: created without a password, emailed a set-password link", status=201, admin=True,
          body=NEW_USER, response=USER)
def invite_user(call: Call) -> dict[str, Any]:
    """The new user: active, without a password until they follow the emailed link."""
    data = call.body()
    settings = call.request.app.state.runtime.settings
    mailer = call.request.app.state.runtime.extras["services"]["mailer"]
    user = svc.invite_user(call.session, email=data["email"], name=data["name"], role=data["role"],
                           department_id=data.get("department_id"), secret=settings.secret,
                           public_url=settings.public_url, mail_from=settings.mail_from,
                           mail_status=mailer.initial_status())
    return user_view(user)


@endpoint("Change a user's role, department, time zone or active flag (deactivating revokes their tokens)", admin=True,
          body=USER_CHANGES, response=USER)
def update_user(call: Call) -> dict[str, Any]:
    """The changed user."""
    return user_view(svc.update_user(call.session, call.user, call.path_int("user_id"), call.body()))


routes = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/me", update_me, methods=["PATCH"]),
    Route("/api/v1/users", list_users, methods=["GET"]),
    Route("/api/v1/users", invite_user, methods=["POST"]),
    Route("/api/v1/users/{user_id:int}", update_user, methods=["PATCH"]),
]
