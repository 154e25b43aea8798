"""Admin pages for people and permissions: users (invite, role, department, deactivate) and role scopes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import policy
from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.models import Department, User
from kanban.services import roles as roles_svc
from kanban.services import users as users_svc
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.forms import optional_int, text
from kanban.web.templating import render


def _users_context(session: Session, **extra: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "users": list(session.scalars(select(User).where(User.role != "system").order_by(User.name))),
        "departments": list(session.scalars(select(Department).order_by(Department.name))),
        "roles": roles_svc.role_names(session), "errors": {}, "form": {}, "message": None, "message_kind": "info",
    }
    ctx.update(extra)
    return ctx


@access("admin")
async def users_page(request: Request) -> Response:
    """GET /admin/users — everyone, with their role, department and state; the invitation form."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        ctx = _users_context(session)
        if flash:
            ctx["message"], ctx["message_kind"] = flash
        return ctx

    return render(request, "admin/users.html", await in_tx(request, load))


async def _user_action(request: Request, work: Any, done: str) -> Response:
    """Run a user form action: success redirects with a message, a ValidationError re-renders the page."""
    form = await request.form()
    try:
        await in_tx(request, lambda s: work(s, require_admin(web_user(request, s)), form))
    except ValidationError as exc:
        fields, message = exc.fields, "Not saved: " + "; ".join(exc.fields.values() or [exc.message])

        def failed(session: Session) -> dict[str, Any]:
            require_admin(web_user(request, session))
            return _users_context(session, errors=fields, form=dict(form), message_kind="error", message=message)

        return render(request, "admin/users.html", await in_tx(request, failed), status_code=422)
    request.session["flash"] = (done, "ok")
    return RedirectResponse("/admin/users", status_code=303)


@access("admin")
async def invite(request: Request) -> Response:
    """POST /admin/users — invite someone: the account is created and a set-password link emailed."""
    runtime = request.app.state.runtime

    def work(session: Session, _admin: User, form: Any) -> None:
        errors: dict[str, str] = {}
        department_id = optional_int(form, "department_id", errors)
        if errors:
            raise ValidationError(_("invalid user"), errors)
        settings = runtime.settings
        users_svc.invite_user(session, email=text(form, "email"), name=text(form, "name"), role=text(form, "role"),
                              department_id=department_id, secret=settings.secret, public_url=settings.public_url,
                              mail_from=settings.mail_from,
                              mail_status=runtime.extras["services"]["mailer"].initial_status())

    return await _user_action(request, work, _("Invitation sent."))


@access("admin")
async def change_user(request: Request) -> Response:
    """POST /admin/users/{id} — change role and department, or (de)activate."""
    user_id = request.path_params["user_id"]

    def work(session: Session, admin: User, form: Any) -> None:
        errors: dict[str, str] = {}
        changes: dict[str, Any] = {"role": text(form, "role"),
                                   "department_id": optional_int(form, "department_id", errors),
                                   "active": text(form, "active") == "1"}
        if errors:
            raise ValidationError(_("invalid user"), errors)
        users_svc.update_user(session, admin, user_id, changes)

    return await _user_action(request, work, _("User saved."))


@access("admin")
async def roles_page(request: Request) -> Response:
    """GET /admin/roles — each role's scope per deal action, editable (admin keeps everything)."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        return {"roles": roles_svc.list_roles(session), "actions": policy.ACTIONS, "scopes": policy.SCOPES,
                "message": flash[0] if flash else None, "message_kind": flash[1] if flash else "info"}

    return render(request, "admin/roles.html", await in_tx(request, load))


@access("admin")
async def save_role(request: Request) -> Response:
    """POST /admin/roles/{name} — new scopes for a role."""
    name = request.path_params["name"]
    form = await request.form()
    scopes = {a: text(form, a) for a in policy.ACTIONS if text(form, a)}

    def work(session: Session) -> None:
        require_admin(web_user(request, session))
        roles_svc.update_role(session, name, scopes)

    try:
        await in_tx(request, work)
        request.session["flash"] = (_("Role “%(name)s” saved.", name=name), "ok")
    except ValidationError as exc:
        request.session["flash"] = ("Not saved: " + "; ".join(exc.fields.values() or [exc.message]), "error")
    return RedirectResponse("/admin/roles", status_code=303)


routes = [
    Route("/admin/users", users_page, methods=["GET"]),
    Route("/admin/users", invite, methods=["POST"]),
    Route("/admin/users/{user_id:int}", change_user, methods=["POST"]),
    Route("/admin/roles", roles_page, methods=["GET"]),
    Route("/admin/roles/{name}", save_role, methods=["POST"]),
]
