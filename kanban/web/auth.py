"""Login and logout pages (argon2 passwords, server-side sessions, throttled per account and per IP)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import logins
from kanban.models import User
from kanban.security import hash_password, verify_password
from kanban.web.deps import SESSION_COOKIE, client_ip, in_tx, login_session, set_session_cookie
from kanban.web.templating import render

_DUMMY_HASH = hash_password("timing-equaliser")
WRONG = "Wrong email or password."
THROTTLED = "Too many failed logins. Try again in a few minutes."


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect to another host after login.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def login_page(request: Request) -> Response:
    """Show the login form."""
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "error": None})


def _attempt(session: Session, request: Request, email: str, password: str) -> tuple[str | None, int]:
    """(session cookie value or None, seconds to wait when throttled). The same answer and the same work
    whether or not the account exists, so neither the message nor the 429 reveals accounts."""
    account, ip = f"account:{email[:300]}", f"ip:{client_ip(request)}"
    wait = logins.blocked_for(session, [account, ip])
    if wait:
        return None, wait
    user = session.scalars(select(User).where(User.email == email)).first()
    if user is None or not user.active or user.role == "system":
        verify_password(_DUMMY_HASH, password)
        user = None
    elif not verify_password(user.password_hash, password):
        user = None
    if user is None:
        logins.record_failure(session, account, logins.ACCOUNT_THROTTLE)
        logins.record_failure(session, ip, logins.IP_THROTTLE)
        return None, 0
    logins.clear_failures(session, account)
    return login_session(request, session, user), 0


async def login(request: Request) -> Response:
    """Check email and password; start a session (429 with Retry-After while throttled)."""
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    token, wait = await in_tx(request, _attempt, request, email, password)
    if token is None:
        ctx = {"next": target, "error": THROTTLED if wait else WRONG, "email": email}
        headers = {"Retry-After": str(wait)} if wait else None
        return render(request, "login.html", ctx, status_code=429 if wait else 400, headers=headers)
    return set_session_cookie(request, RedirectResponse(target, status_code=303), token)


async def logout(request: Request) -> Response:
    """End the session for good: its row is deleted, so a copied cookie no longer works."""
    token = request.cookies.get(SESSION_COOKIE)

    def end(session: Session) -> None:
        row = logins.active_session(session, token, logins.Timeouts.of(request.app.state.runtime.settings))
        if row is not None:
            logins.end_session(session, row.user_id, row.id)

    await in_tx(request, end)
    request.session.clear()
    return set_session_cookie(request, RedirectResponse("/login", status_code=303), None)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
