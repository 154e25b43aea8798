"""Per-request plumbing: a session in a worker thread, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kanban import clock, company, i18n, logins
from kanban.errors import AuthRequiredError, PermissionDeniedError
from kanban.i18n import _
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
    time_zone: str | None = None  # their own IANA zone; None: the company's (kanban.timezones.zone_of)
    language: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User) -> CurrentUser:
        """Snapshot a user row (and refresh this process's copy of the company settings, for zone_of); the
        request now speaks the user's language."""
        company.settings(object_session(user))
        i18n.set_language(i18n.language_of(user))
        return cls(user.id, user.email, user.name, user.role, user.department_id, user.phone, user.active,
                   user.time_zone, user.language)


class LoginRequiredError(AuthRequiredError):
    """A browser request without a logged-in user: redirect to the login page."""


async def in_tx(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(session, *args) in a thread inside one transaction (commit on success)."""
    sessions = request.app.state.runtime.sessions

    def work() -> T:
        with sessions() as session, session.begin():
            return fn(session, *args, **kwargs)

    return await run_in_threadpool(work)


SESSION_COOKIE = "kanban_session"


def web_user(request: Request, session: Session) -> User:
    """The logged-in user of a browser request (a live server-side session), or LoginRequiredError.

    Asked again in the same transaction (a move, then its re-rendered columns), it answers from that
    transaction's first lookup."""
    known = session.info.get(_WEB_USER)
    if known is not None and known[0] is session.get_transaction() and known[1] is request:
        return known[2]
    found = logins.active_session_with_user(session, request.cookies.get(SESSION_COOKIE), _timeouts(request))
    row, user = found if found is not None else (None, None)
    if row is None or user is None or not user.active:
        raise LoginRequiredError(_("log in to continue"))
    request.scope["session_id"] = row.id
    request.scope["user"] = CurrentUser.of(user)
    session.info.update(user_id=user.id, via="ui")  # who a configuration save is recorded for
    session.info[_WEB_USER] = (session.get_transaction(), request, user)
    return user


_WEB_USER = "web_user"


def _timeouts(request: Request) -> logins.Timeouts:
    return logins.Timeouts.of(request.app.state.runtime.settings)


def client_ip(request: Request) -> str:
    """The client's address (uvicorn rewrites it from X-Forwarded-For only for KANBAN_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def login_session(request: Request, session: Session, user: User) -> str:
    """Start a fresh server-side session for a user and return the cookie value (the old CSRF token is
    dropped, so a token planted before login is useless after it)."""
    request.session.clear()
    token, row = logins.start_session(session, user, _timeouts(request), request.headers.get("user-agent", ""),
                                      client_ip(request))
    request.scope["session_id"] = row.id
    return token


def set_session_cookie(request: Request, response: Response, token: str | None) -> Response:
    """Put the session id in its cookie (or delete the cookie when token is None)."""
    settings = request.app.state.runtime.settings
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.cookies_secure, httponly=True,
                               samesite="lax")
    else:
        response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_max_days * 86400), path="/",
                            secure=settings.cookies_secure, httponly=True, samesite="lax")
    return response


def api_user(request: Request, session: Session) -> User:
    """The user behind a bearer token, or AuthRequiredError (401)."""
    header = request.headers.get("authorization", "")
    scheme, _unused, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthRequiredError(_("missing bearer token"))
    # The token and its user in one round trip.
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == hash_token(token.strip()))).first()
    row, user = (found[0], found[1]) if found is not None else (None, None)
    now = clock.now()
    if row is None or user is None or not user.active:
        raise AuthRequiredError(_("invalid or revoked token"))
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthRequiredError(_("the token has expired"))
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    request.scope["user"] = CurrentUser.of(user)
    session.info.update(user_id=user.id, via="api")  # who a configuration save is recorded for
    return user


def require_admin(user: User) -> User:
    """Raise PermissionDeniedError unless the user is an admin."""
    if user.role != "admin":
        raise PermissionDeniedError(_("admins only"))
    return user
