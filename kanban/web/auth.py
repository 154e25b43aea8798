"""Login and logout pages (argon2 passwords, server-side sessions, throttled per account and per IP), and
accepting an invitation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import logins
from kanban.errors import ValidationError
from kanban.i18n import N_, _
from kanban.models import User
from kanban.security import hash_password, verify_password
from kanban.services.users import invited_user, set_password
from kanban.web.access import access
from kanban.web.deps import SESSION_COOKIE, client_ip, in_tx, login_session, set_session_cookie
from kanban.web.templating import render

_DUMMY_HASH = hash_password("timing-equaliser")
WRONG = N_("Wrong email or password.")
THROTTLED = N_("Too many failed logins. Try again in a few minutes.")


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect to another host after login.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@access("public")
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


@access("public")
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


@access("public")
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


@access("public")
async def invitation_page(request: Request) -> Response:
    """GET /invitation/{token} — the set-password form of an emailed invitation (404 when used or expired)."""
    token = request.path_params["token"]
    secret = request.app.state.runtime.settings.secret
    invited = await in_tx(request, lambda s: _snapshot(invited_user(s, secret, token)))
    return render(request, "invitation.html", {"invited": invited, "token": token, "error": None},
                  status_code=200 if invited else 404)


@access("public")
async def accept_invitation(request: Request) -> Response:
    """POST /invitation/{token} — set the password (the link is then used up) and log in."""
    token = request.path_params["token"]
    form = await request.form()
    password, again = str(form.get("password", "")), str(form.get("password2", ""))
    secret = request.app.state.runtime.settings.secret

    def accept(session: Session) -> tuple[User | None, str | None, str | None]:
        user = invited_user(session, secret, token)
        if user is None:
            return None, None, None
        if password != again:
            return user, _("The two passwords differ."), None
        try:
            set_password(session, user, password)
        except ValidationError as exc:
            return user, "; ".join(exc.fields.values()), None
        return user, None, login_session(request, session, user)

    user, error, cookie = await in_tx(request, accept)
    if user is None or error:
        ctx = {"invited": _snapshot(user), "token": token, "error": error}
        return render(request, "invitation.html", ctx, status_code=404 if user is None else 400)
    return set_session_cookie(request, RedirectResponse("/", status_code=303), cookie)


def _snapshot(user: User | None) -> dict[str, str] | None:
    return {"name": user.name, "email": user.email} if user is not None else None


routes = [
    Route("/invitation/{token:str}", invitation_page, methods=["GET"]),
    Route("/invitation/{token:str}", accept_invitation, methods=["POST"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
