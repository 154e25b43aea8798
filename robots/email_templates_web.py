"""Email template library: JSON API (/api/v1/email-templates) and the admin page (/email-templates)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.errors import ConflictError, ValidationError
from kanban.i18n import N_, _
from kanban.web.access import access
from kanban.web.api import schema
from kanban.web.api.base import Call, endpoint, page
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render
from robots import email_templates as service
from robots.values import KNOWN_PLACEHOLDERS

BODY = schema.obj({"name": schema.STR, "subject": schema.STR, "body_html": schema.STR,
                   "body_text": schema.nullable(schema.STR), "language": schema.nullable(schema.STR)})
TEMPLATE = schema.component("EmailTemplate", schema.obj({
    "id": schema.INT, "name": schema.STR, "subject": schema.STR, "body_html": schema.STR,
    "body_text": schema.nullable(schema.STR), "language": schema.nullable(schema.STR),
    "created_at": schema.TIME}, closed=False))
FORM_FIELDS = ("name", "subject", "body_html", "body_text", "language")


@endpoint("List email templates", response=schema.page_of(TEMPLATE), access="authenticated")
def list_api(call: Call) -> dict[str, Any]:
    """Every template, by name (reps pick them when writing from a deal)."""
    return page([service.template_view(t) for t in service.list_templates(call.session)], None)


@endpoint("Add an email template", status=201, admin=True, body=BODY, response=TEMPLATE)
def create_api(call: Call) -> dict[str, Any]:
    """422 naming the field for a missing value or an unknown placeholder."""
    return service.template_view(service.create_template(call.session, call.body()))


@endpoint("Get an email template", response=TEMPLATE, access="authenticated")
def get_api(call: Call) -> dict[str, Any]:
    """One template."""
    return service.template_view(service.get_template(call.session, call.path_int("template_id")))


@endpoint("Change an email template", admin=True, body=BODY, response=TEMPLATE)
def update_api(call: Call) -> dict[str, Any]:
    """Replace the given fields, validating the result."""
    row = service.update_template(call.session, call.path_int("template_id"), call.body())
    return service.template_view(row)


@endpoint("Delete an email template", admin=True)
def delete_api(call: Call) -> None:
    """409 while a robot sends it."""
    service.delete_template(call.session, call.path_int("template_id"))


def _page_ctx(session: Session, edit: Any = None, values: dict[str, Any] | None = None,
              errors: dict[str, str] | None = None, flash: Any = None) -> dict[str, Any]:
    base = service.template_view(edit) if edit is not None else {}
    return {"templates": service.list_templates(session), "edit": edit, "values": values or base,
            "errors": errors or {}, "flash": flash,
            "placeholders": [(n, t) for n, t in KNOWN_PLACEHOLDERS if not n.startswith("robots.")]}


@access("admin")
async def templates_page(request: Request) -> Response:
    """GET /email-templates[?edit=id] — the library, with the form to add or change a template."""
    flash = request.session.pop("flash", None)
    raw = request.query_params.get("edit", "")

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        edit = service.get_template(session, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        return _page_ctx(session, edit, flash=flash)

    return render(request, "robots/email_templates.html", await in_tx(request, load))


@access("admin")
async def save_template(request: Request) -> Response:
    """POST /email-templates (new) or /email-templates/{id} (edit); errors show the form again (422)."""
    template_id = request.path_params.get("template_id")
    form = await request.form()
    data = {name: str(form.get(name, "")) for name in FORM_FIELDS}

    def act(session: Session) -> None:
        require_admin(web_user(request, session))
        if template_id is None:
            service.create_template(session, data)
        else:
            service.update_template(session, template_id, data)

    try:
        await in_tx(request, act)
    except ValidationError as exc:
        problem = (exc.fields, exc.message)

        def load(session: Session) -> dict[str, Any]:
            edit = service.get_template(session, template_id) if template_id is not None else None
            return _page_ctx(session, edit, data, problem[0], (problem[1], "error"))

        return render(request, "robots/email_templates.html", await in_tx(request, load), status_code=422)
    request.session["flash"] = (_("Template “%(strip)s” saved.", strip=data['name'].strip()), "ok")
    return RedirectResponse("/email-templates", status_code=303)


@access("admin")
async def delete_template(request: Request) -> Response:
    """POST /email-templates/{id}/delete — refused (with the reason) while a robot sends it."""
    template_id = request.path_params["template_id"]

    def act(session: Session) -> None:
        require_admin(web_user(request, session))
        service.delete_template(session, template_id)

    try:
        await in_tx(request, act)
        request.session["flash"] = (_("Template deleted."), "ok")
    except ConflictError as exc:
        request.session["flash"] = (exc.message, "error")
    return RedirectResponse("/email-templates", status_code=303)


routes = [
    Route("/api/v1/email-templates", list_api, methods=["GET"]),
    Route("/api/v1/email-templates", create_api, methods=["POST"]),
    Route("/api/v1/email-templates/{template_id:int}", get_api, methods=["GET"]),
    Route("/api/v1/email-templates/{template_id:int}", update_api, methods=["PATCH"]),
    Route("/api/v1/email-templates/{template_id:int}", delete_api, methods=["DELETE"]),
    Route("/email-templates", templates_page, methods=["GET"]),
    Route("/email-templates", save_template, methods=["POST"]),
    Route("/email-templates/{template_id:int}", save_template, methods=["POST"]),
    Route("/email-templates/{template_id:int}/delete", delete_template, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Add the template routes and the admin menu entry."""
    runtime.routes.extend(routes)
    runtime.nav_links.append((N_("Email templates"), "/email-templates", True))
