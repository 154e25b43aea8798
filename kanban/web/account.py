"""The user menu's Sessions page: where I am logged in, ending sessions, changing my password."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import company, i18n, logins
from kanban.i18n import _, ngettext
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import render

PAGE = "/account/sessions"


def _context(session: Session, request: Request, errors: dict[str, str] | None = None) -> dict[str, Any]:
    user = web_user(request, session)
    settings = request.app.state.runtime.settings
    return {"items": logins.list_sessions(session, user.id, logins.Timeouts.of(settings)),
            "current_id": request.scope.get("session_id"), "errors": errors or {},
            "idle_hours": f"{settings.session_idle_hours:g}", "max_days": f"{settings.session_max_days:g}",
            "my_time_zone": user.time_zone or "", "company_time_zone": company.settings(session).time_zone,
            "zone_names": sorted(company.zone_names()),
            "language_names": i18n.LANGUAGE_NAMES, "company_language": i18n.company_language()}


@access("authenticated")
async def sessions_page(request: Request) -> Response:
    """GET /account/sessions — my live sessions (device, IP, created, last seen) with End buttons."""
    flash = request.session.pop("flash", None)
    return render(request, "account/sessions.html", {**await in_tx(request, _context, request), "flash": flash})


def _done(request: Request, message: str) -> Response:
    request.session["flash"] = (message, "ok")
    return RedirectResponse(PAGE, status_code=303)


@access("authenticated")
async def end_one(request: Request) -> Response:
    """POST /account/sessions/{id}/end — end one of my sessions (404 when not mine)."""
    session_id = request.path_params["session_id"]

    def act(session: Session) -> bool:
        return logins.end_session(session, web_user(request, session).id, session_id)

    if not await in_tx(request, act):
        return render(request, "error.html", {"status": 404, "message": _("no such session")}, status_code=404)
    return _done(request, _("Session ended."))


@access("authenticated")
async def end_others(request: Request) -> Response:
    """POST /account/sessions/end-others — end every session of mine but this one."""

    def act(session: Session) -> int:
        user = web_user(request, session)
        return logins.end_user_sessions(session, user.id, except_id=request.scope.get("session_id"))

    count = await in_tx(request, act)
    return _done(request, ngettext("%(num)d other session ended.", "%(num)d other sessions ended.", count))


@access("authenticated")
async def change_password(request: Request) -> Response:
    """POST /account/password — a new password (current one required); my other sessions end."""
    form = await request.form()

    def act(session: Session) -> dict[str, str]:
        user = web_user(request, session)
        return logins.change_password(session, user, str(form.get("current_password", "")),
                                      str(form.get("new_password", "")), request.scope.get("session_id"))

    errors = await in_tx(request, act)
    if errors:
        return render(request, "account/sessions.html", await in_tx(request, _context, request, errors),
                      status_code=422)
    return _done(request, _("Password changed; your other sessions were ended."))


@access("authenticated")
async def change_language(request: Request) -> Response:
    """POST /account/language — my interface language (empty: the company's)."""
    form = await request.form()
    chosen = str(form.get("language", "")).strip()
    if chosen and chosen not in i18n.LANGUAGES:
        ctx = await in_tx(request, _context, request)  # knows the user, hence the language of the message
        ctx["errors"] = {"language": _("Choose one of the listed languages.")}
        return render(request, "account/sessions.html", ctx, status_code=422)

    def act(session: Session) -> None:
        user = web_user(request, session)
        user.language = chosen or None

    await in_tx(request, act)
    i18n.set_language(chosen or i18n.company_language())
    return _done(request, _("Language saved."))


routes = [
    Route(PAGE, sessions_page, methods=["GET"]),
    Route("/account/sessions/end-others", end_others, methods=["POST"]),
    Route("/account/sessions/{session_id:int}/end", end_one, methods=["POST"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/language", change_language, methods=["POST"]),
]
