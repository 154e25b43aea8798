"""Login and logout pages (argon2 passwords, signed session cookie), and accepting an invitation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.errors import ValidationError
from kanban.models import User
from kanban.security import hash_password, verify_password
from kanban.services.users import invited_user, set_password
from kanban.web.access import access
from kanban.web.deps import in_tx, login_session
from kanban.web.templating import render

_DUMMY_HASH = hash_password("timing-equaliser")


def _safe_next(value: str | None) -> str:
    # Only local paths: never redirect to another host after login.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@access("public")
async def login_page(request: Request) -> Response:
    """Show the login form."""
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "error": None})


@access("public")
async def login(request: Request) -> Response:
    """Check email and password; start a session."""
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))

    def check(session: Session) -> User | None:
        user = session.scalars(select(User).where(User.email == email)).first()
        if user is None or not user.active or user.role == "system":
            verify_password(_DUMMY_HASH, password)
            return None
        return user if verify_password(user.password_hash, password) else None

    user = await in_tx(request, check)
    if user is None:
        ctx = {"next": target, "error": "Wrong email or password.", "email": email}
        return render(request, "login.html", ctx, status_code=400)
    login_session(request, user)
    return RedirectResponse(target, status_code=303)


@access("public")
async def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


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

    def accept(session: Session) -> tuple[User | None, str | None]:
        user = invited_user(session, secret, token)
        if user is None:
            return None, None
        if password != again:
            return user, "The two passwords differ."
        try:
            set_password(session, user, password)
        except ValidationError as exc:
            return user, "; ".join(exc.fields.values())
        return user, None

    user, error = await in_tx(request, accept)
    if user is None or error:
        ctx = {"invited": _snapshot(user), "token": token, "error": error}
        return render(request, "invitation.html", ctx, status_code=404 if user is None else 400)
    login_session(request, user)
    return RedirectResponse("/", status_code=303)


def _snapshot(user: User | None) -> dict[str, str] | None:
    return {"name": user.name, "email": user.email} if user is not None else None


routes = [
    Route("/invitation/{token:str}", invitation_page, methods=["GET"]),
    Route("/invitation/{token:str}", accept_invitation, methods=["POST"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
