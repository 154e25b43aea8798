"""Admin pages for pipelines and stages: create, rename, add, change kind, reorder, delete with a destination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import queries
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import _, ngettext
from kanban.models import Department, Pipeline
from kanban.services import pipelines as svc
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.forms import optional_int, text
from kanban.web.templating import render


def _page_context(session: Session, pipeline_id: int | None, **extra: Any) -> dict[str, Any]:
    all_pipelines = queries.pipelines(session)
    chosen = None
    if pipeline_id is not None:
        chosen = svc.get_pipeline(session, pipeline_id)
    elif all_pipelines:
        chosen = all_pipelines[0]
    stages = queries.stages_of(session, chosen.id) if chosen else []
    counts = {s.id: svc.stage_deal_count(session, s.id) for s in stages}
    ctx: dict[str, Any] = {"pipelines": all_pipelines, "pipeline": chosen, "stages": stages, "counts": counts,
                           "errors": {}, "form": {}, "failed": None, "message": None, "message_kind": "info",
                           "kinds": svc.STAGE_KINDS,
                           "departments": list(session.scalars(select(Department).order_by(Department.name)))}
    ctx.update(extra)
    return ctx


@access("admin")
async def pipelines_page(request: Request) -> Response:
    """GET /admin/pipelines?pipeline_id= — pipelines and the chosen one's stages."""
    pipeline_id = optional_int(request.query_params, "pipeline_id")
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        ctx = _page_context(session, pipeline_id)
        if flash:
            ctx["message"], ctx["message_kind"] = flash
        return ctx

    return render(request, "admin/pipelines.html", await in_tx(request, load))


async def _act(request: Request, action: Callable[[Session, Any], tuple[int, str]], failed: str) -> Response:
    """Run an admin form action; success redirects back, a ValidationError re-renders with field errors."""
    form = await request.form()

    def work(session: Session) -> tuple[int, str]:
        require_admin(web_user(request, session))
        return action(session, form)

    try:
        pipeline_id, done = await in_tx(request, work)
    except ValidationError as exc:
        fields, why = exc.fields, exc.message

        def reload(session: Session) -> dict[str, Any]:
            require_admin(web_user(request, session))
            pid = optional_int(form, "pipeline_id")
            return _page_context(session, pid, errors=fields, form=dict(form), failed=failed,
                                 message=_("Not saved: %(why)s.", why=why), message_kind="error")

        return render(request, "admin/pipelines.html", await in_tx(request, reload), status_code=422)
    request.session["flash"] = (done, "ok")
    return RedirectResponse(f"/admin/pipelines?pipeline_id={pipeline_id}", status_code=303)


def _create_pipeline(session: Session, form: Any) -> tuple[int, str]:
    lines = [line.strip() for line in text(form, "stages").splitlines() if line.strip()]
    stages: list[dict[str, Any]] = [{"name": name, "kind": "open"} for name in lines]
    if form.get("won_lost"):
        stages += [{"name": _("Won"), "kind": "won"}, {"name": _("Lost"), "kind": "lost"}]
    pipeline = svc.create_pipeline(session, text(form, "name"), stages)
    return pipeline.id, _("Pipeline “%(name)s” created.", name=pipeline.name)


@access("admin")
async def create_pipeline(request: Request) -> Response:
    """POST /admin/pipelines — name and initial stages (one per line, plus Won/Lost)."""
    return await _act(request, _create_pipeline, "create")


def _rename_pipeline(session: Session, form: Any) -> tuple[int, str]:
    pipeline = svc.get_pipeline(session, optional_int(form, "pipeline_id") or 0)
    name = text(form, "name")
    if not name or len(name) > 200:
        raise ValidationError(_("invalid name"), {"name": _("a name of 1 to 200 characters is required")})
    pipeline.name = name
    session.flush()
    return pipeline.id, _("Pipeline renamed to “%(name)s”.", name=name)


@access("admin")
async def rename_pipeline(request: Request) -> Response:
    """POST /admin/pipelines/rename — give a pipeline a new name."""
    return await _act(request, _rename_pipeline, "rename")


def _add_stage(session: Session, form: Any) -> tuple[int, str]:
    pipeline_id = optional_int(form, "pipeline_id") or 0
    position = optional_int(form, "position")
    stage = svc.add_stage(session, pipeline_id, text(form, "name"), position, text(form, "kind") or "open")
    return pipeline_id, _("Stage “%(name)s” added.", name=stage.name)


@access("admin")
async def add_stage(request: Request) -> Response:
    """POST /admin/stages — add a stage at a position with a kind."""
    return await _act(request, _add_stage, "add_stage")


def _update_stage(session: Session, form: Any) -> tuple[int, str]:
    stage = svc.update_stage(session, optional_int(form, "stage_id") or 0, name=text(form, "name"),
                             kind=text(form, "kind") or None)
    return stage.pipeline_id, _("Stage “%(name)s” saved.", name=stage.name)


@access("admin")
async def update_stage(request: Request) -> Response:
    """POST /admin/stages/update — rename a stage or change its kind."""
    return await _act(request, _update_stage, "update_stage")


def _move_stage(session: Session, form: Any) -> tuple[int, str]:
    stage = svc.get_stage(session, optional_int(form, "stage_id") or 0)
    svc.move_stage(session, stage.id, -1 if text(form, "direction") == "up" else 1)
    return stage.pipeline_id, _("Stage “%(name)s” moved %(text)s.",
                                 name=stage.name, text=text(form, 'direction') or 'down')


@access("admin")
async def move_stage(request: Request) -> Response:
    """POST /admin/stages/move — one place up or down."""
    return await _act(request, _move_stage, "move_stage")


def _delete_context(request: Request, session: Session, stage_id: int, move_to: int | None,
                    errors: dict[str, str]) -> dict[str, Any]:
    """The confirm page: where the deals may go, and (once a destination is chosen) what will run there."""
    stage = svc.get_stage(session, stage_id)
    others = [s for s in queries.stages_of(session, stage.pipeline_id) if s.id != stage.id]
    sources = request.app.state.runtime.stage_automation
    try:
        preview = svc.deletion_preview(session, stage.id, move_to, sources)
    except ValidationError as exc:  # no destination chosen yet (or a wrong one): name what goes away only
        errors = {**exc.fields, **errors} if move_to is not None else errors
        preview = svc.DeletionPreview(stage, svc.stage_deal_count(session, stage.id), None,
                                      removed=[i for source in sources for i in source(session, stage.id)])
    return {"stage": stage, "others": others, "count": preview.deals, "preview": preview,
            "pipeline": session.get(Pipeline, stage.pipeline_id), "errors": errors}


@access("admin")
async def delete_stage_page(request: Request) -> Response:
    """GET /admin/stages/{id}/delete?move_to= — confirm; choosing a destination shows the robots that will run."""
    stage_id = request.path_params["stage_id"]
    move_to = optional_int(request.query_params, "move_to", {})

    def load(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        return _delete_context(request, session, stage_id, move_to, {})

    return render(request, "admin/delete_stage.html", await in_tx(request, load))


@access("admin")
async def delete_stage(request: Request) -> Response:
    """POST /admin/stages/{id}/delete — archive the stage, moving its deals to `move_to` first (with or
    without running that stage's robots: `run_robots`)."""
    stage_id = request.path_params["stage_id"]
    form = await request.form()
    run_robots = text(form, "run_robots") != "0"

    def work(session: Session) -> tuple[int, str]:
        user = require_admin(web_user(request, session))
        stage = svc.get_stage(session, stage_id)
        errors: dict[str, str] = {}
        move_to = optional_int(form, "move_to", errors)
        if errors:
            raise ValidationError(_("invalid destination"), {"move_to": _("choose a stage")})
        svc.delete_stage(session, stage.id, actor=Actor.user(user.id), move_to=move_to, run_robots=run_robots)
        return stage.pipeline_id, _("Stage “%(name)s” deleted.", name=stage.name)

    try:
        pipeline_id, done = await in_tx(request, work)
    except ValidationError as exc:
        fields = exc.fields

        def reload(session: Session) -> dict[str, Any]:
            require_admin(web_user(request, session))
            return _delete_context(request, session, stage_id, optional_int(form, "move_to", {}), fields)

        return render(request, "admin/delete_stage.html", await in_tx(request, reload), status_code=422)
    request.session["flash"] = (done, "ok")
    return RedirectResponse(f"/admin/pipelines?pipeline_id={pipeline_id}", status_code=303)


def _set_visibility(session: Session, form: Any) -> tuple[int, str]:
    ids = [int(v) for v in form.getlist("department_id") if str(v).isdigit()]
    visible: Any = "all" if text(form, "visible") != "some" else ids
    pipeline = svc.update_pipeline(session, optional_int(form, "pipeline_id") or 0, {"visible_to": visible})
    who = _("every department") if pipeline.visible_to is None else ngettext(
        "%(num)d department", "%(num)d departments", len(pipeline.visible_to))
    return pipeline.id, f"“{pipeline.name}” is now visible to {who}."


@access("admin")
async def pipeline_visibility(request: Request) -> Response:
    """POST /admin/pipelines/visibility — every department, or only the ticked ones (others get 404s)."""
    return await _act(request, _set_visibility, "visibility")


routes = [
    Route("/admin/pipelines", pipelines_page, methods=["GET"]),
    Route("/admin/pipelines/visibility", pipeline_visibility, methods=["POST"]),
    Route("/admin/pipelines", create_pipeline, methods=["POST"]),
    Route("/admin/pipelines/rename", rename_pipeline, methods=["POST"]),
    Route("/admin/stages", add_stage, methods=["POST"]),
    Route("/admin/stages/update", update_stage, methods=["POST"]),
    Route("/admin/stages/move", move_stage, methods=["POST"]),
    Route("/admin/stages/{stage_id:int}/delete", delete_stage_page, methods=["GET"]),
    Route("/admin/stages/{stage_id:int}/delete", delete_stage, methods=["POST"]),
]
