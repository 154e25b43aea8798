"""Won / lost / reopen from the board's drop zones and the deal page, and the admin's lost reasons page."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import queries
from kanban.errors import ConflictError, KanbanError, ValidationError
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Deal
from kanban.services import outcomes
from kanban.services.pipelines import update_pipeline
from kanban.web.access import access
from kanban.web.board import board_filters, ordered, page_size
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.forms import board_url, optional_int, safe_return, sort_from, text
from kanban.web.templating import render

DONE = {"won": N_("marked won"), "lost": N_("marked lost"), "reopen": N_("reopened")}


def _apply(session: Session, request: Request, deal_id: int, action: str, form: Any) -> Deal:
    actor = Actor.user(web_user(request, session).id)
    if action == "won":
        return outcomes.mark_won(session, deal_id, actor=actor)
    if action == "lost":
        errors: dict[str, str] = {}
        reason_id = optional_int(form, "reason_id", errors)
        if errors:
            raise ValidationError(_("choose a reason from the list"), errors)
        return outcomes.mark_lost(session, deal_id, actor=actor, reason_id=reason_id,
                                  reason=text(form, "reason")[:300] or None)
    return outcomes.reopen(session, deal_id, actor=actor)


def _board_partial(session: Session, request: Request, deal: Deal | None, form: Any, message: str,
                   kind: str) -> dict[str, Any]:
    """The columns the board re-renders after a drop on Won / Lost (the card keeps its stage)."""
    filters, sort = board_filters(request, form), sort_from(form)
    wanted = {deal.stage_id} if deal else set()
    stages = queries.stages_of(session, deal.pipeline_id) if deal else []
    user = web_user(request, session)
    columns = [queries.column(session, s, filters, page_size(request), user) for s in stages if s.id in wanted]
    return {"columns": ordered(columns, sort), "stages": stages, "filters": filters, "sort": sort,
            "board_url": board_url(deal.pipeline_id if deal else None, filters, sort),
            "message": message, "message_kind": kind, "people": queries.people(session)}


@access("deal:edit")
async def change_status(request: Request) -> Response:
    """POST /deals/{id}/won | /lost (reason_id or reason) | /reopen — JS drops get columns, forms a redirect."""
    deal_id = request.path_params["deal_id"]
    action = request.url.path.rsplit("/", 1)[1]
    form = await request.form()
    partial = bool(request.headers.get("hx-request"))

    def work(session: Session) -> tuple[Any, int]:
        deal = _apply(session, request, deal_id, action, form)
        message = f"“{deal.title}” {DONE[action]}."
        return (_board_partial(session, request, deal, form, message, "ok") if partial else message), 200

    try:
        result, status = await in_tx(request, work)
    except (ValidationError, ConflictError) as exc:
        # A deal the user may not see (or change) is the error page's 404 (403), not a message about it.
        result, status = await in_tx(request, _refused, request, deal_id, form, exc, partial)
    if partial:
        return render(request, "partials/moved.html", result, status_code=status)
    request.session["flash"] = (result, "ok" if status == 200 else "error")
    return RedirectResponse(safe_return(text(form, "return_to"), f"/deals/{deal_id}"), status_code=303)


def _refused(session: Session, request: Request, deal_id: int, form: Any, exc: KanbanError,
             partial: bool) -> tuple[Any, int]:
    web_user(request, session)
    detail = "; ".join(exc.fields.values()) or exc.message
    message = _("Not changed: %(detail)s.", detail=detail)
    if not partial:
        return message, exc.status
    return _board_partial(session, request, session.get(Deal, deal_id), form, message, "error"), exc.status


def _reasons_context(session: Session, **extra: Any) -> dict[str, Any]:
    ctx = {"reasons": outcomes.lost_reasons(session), "pipelines": queries.pipelines(session), "errors": {},
           "name": "", "message": None, "message_kind": "info"}
    ctx.update(extra)
    return ctx


@access("admin")
async def lost_reasons_page(request: Request) -> Response:
    """GET /admin/lost-reasons — the reasons a deal can be lost with, and which pipelines require one."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        extra = {"message": flash[0], "message_kind": flash[1]} if flash else {}
        return _reasons_context(session, **extra)

    return render(request, "admin/lost_reasons.html", await in_tx(request, load))


@access("admin")
async def edit_lost_reasons(request: Request) -> Response:
    """POST /admin/lost-reasons (add `name`), /admin/lost-reasons/{id}/delete, /admin/lost-reasons/required."""
    form = await request.form()
    reason_id = request.path_params.get("reason_id")
    action = request.url.path.rsplit("/", 1)[1]

    def work(session: Session) -> str:
        require_admin(web_user(request, session))
        if reason_id is not None:
            outcomes.delete_lost_reason(session, reason_id)
            return _("Lost reason removed.")
        if action == "required":
            required = {int(v) for v in form.getlist("required") if str(v).isdigit()}
            for pipeline in queries.pipelines(session):
                update_pipeline(session, pipeline.id, {"lost_reason_required": pipeline.id in required})
            return _("Saved which pipelines require a reason.")
        return _("Lost reason “%(name)s” added.", name=outcomes.create_lost_reason(session, text(form, 'name')).name)

    try:
        message = await in_tx(request, work)
    except (ValidationError, ConflictError) as exc:
        fields, status = exc.fields, exc.status

        def reload(session: Session) -> dict[str, Any]:
            require_admin(web_user(request, session))
            return _reasons_context(session, errors=fields, name=text(form, "name"),
                                    message=_("Not saved: see the form."), message_kind="error")

        return render(request, "admin/lost_reasons.html", await in_tx(request, reload), status_code=status)
    request.session["flash"] = (message, "ok")
    return RedirectResponse("/admin/lost-reasons", status_code=303)


routes = [
    *(Route(f"/deals/{{deal_id:int}}/{action}", change_status, methods=["POST"]) for action in DONE),
    Route("/admin/lost-reasons", lost_reasons_page, methods=["GET"]),
    Route("/admin/lost-reasons", edit_lost_reasons, methods=["POST"]),
    Route("/admin/lost-reasons/required", edit_lost_reasons, methods=["POST"]),
    Route("/admin/lost-reasons/{reason_id:int}/delete", edit_lost_reasons, methods=["POST"]),
]
