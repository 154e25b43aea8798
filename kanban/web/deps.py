"""Per-request plumbing: a session in a worker thread, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from kanban import clock
from kanban.errors import AuthRequiredError, PermissionDeniedError
from kanban.models import ApiToken, User
from kanban.security import hash_token

T = TypeVar("T")


@dataclass(frozen=True)
class CurrentUser:
    """A plain snapshot of the request's user in scope["user"]: still readable after the transaction
    rolled back (error pages render it), unlike the ORM row."""

    id: int
    email: str
    name: str
    role: str
    department_id: int | None
    phone: str | None
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User) -> CurrentUser:
        """Snapshot a user row."""
        return cls(user.id, user.email, user.name, user.role, user.department_id, user.phone, user.active)


class LoginRequiredError(AuthRequiredError):
    """A browser request without a logged-in user: redirect to the login page."""


async def in_tx(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(session, *args) in a thread inside one transaction (commit on success)."""
    sessions = request.app.state.runtime.sessions

    def work() -> T:
        with sessions() as session, session.begin():
            return fn(session, *args, **kwargs)

    return await run_in_threadpool(work)


def web_user(request: Request, session: Session) -> User:
    """The logged-in user of a browser request, or LoginRequiredError."""
    uid = request.session.get("uid")
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.active or request.session.get("pw") != _pw_marker(user):
        request.session.pop("uid", None)
        raise LoginRequiredError("log in to continue")
    request.scope["user"] = CurrentUser.of(user)
    return user


def _pw_marker(user: User) -> str:
    # Changing a password (or deactivating) invalidates existing sessions.
    return (user.password_hash or "")[-16:]


def login_session(request: Request, user: User) -> None:
    """Start a fresh session for a user (the old CSRF token is dropped)."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["pw"] = _pw_marker(user)


def api_user(request: Request, session: Session) -> User:
    """The user behind a bearer token, or AuthRequiredError (401)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthRequiredError("missing bearer token")
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()))).first()
    user = session.get(User, row.user_id) if row else None
    if row is None or user is None or not user.active:
        raise AuthRequiredError("invalid or revoked token")
    now = clock.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    request.scope["user"] = CurrentUser.of(user)
    return user


def require_admin(user: User) -> User:
    """Raise PermissionDeniedError unless the user is an admin."""
    if user.role != "admin":
        raise PermissionDeniedError("admins only")
    return user
