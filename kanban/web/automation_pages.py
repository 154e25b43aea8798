"""Automation as code pages (admins): download the pipeline's document, upload one to see its dry-run diff and
apply it, copy the automation to another pipeline, and the version history with each version's diff and restore."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import automation_code, automation_versions
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import Pipeline, User
from kanban.services import pipelines as svc
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render

MAX_UPLOAD = 1024 * 1024


def _admin(request: Request, session: Session) -> Pipeline:
    require_admin(web_user(request, session))
    return svc.get_pipeline(session, int(request.path_params["pipeline_id"]))


@access("admin")
async def code_page(request: Request) -> Response:
    """GET /automation/pipelines/{id}/code — download, upload, copy and the version history."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        pipeline = _admin(request, session)
        versions = automation_versions.history(session, pipeline.id)
        users = dict(session.execute(select(User.id, User.name).where(
            User.id.in_({v.user_id for v in versions if v.user_id}))).all())
        others = [p for p in session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id))
                  if p.id != pipeline.id]
        return {"pipeline": pipeline, "versions": versions, "users": users, "others": others, "flash": flash}

    return render(request, "automation_code/page.html", {**await in_tx(request, load), "show": automation_code.show})


@access("admin")
async def download(request: Request) -> Response:
    """GET /automation/pipelines/{id}/code.{yaml|json}[?version=N] — the document as a file."""
    fmt = request.path_params["fmt"]
    if fmt not in ("yaml", "json"):
        raise NotFoundError(_("no %(fmt)s download", fmt=fmt))

    def load(session: Session) -> tuple[str, str]:
        pipeline = _admin(request, session)
        version = request.query_params.get("version", "")
        if version.isdigit():
            doc = automation_versions.get_version(session, pipeline.id, int(version)).document
        else:
            doc = automation_code.export_document(session, pipeline.id)
        return pipeline.name, automation_code.dump(doc, fmt)

    name, text = await in_tx(request, load)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "pipeline"
    media = "application/json" if fmt == "json" else "application/yaml"
    return Response(text, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="automation-{slug}.{fmt}"'})


async def _document_text(request: Request) -> str:
    form = await request.form()
    upload = form.get("file")
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            raise ValidationError(_("The file is larger than 1 MiB."), {"file": _("at most 1 MiB")})
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(_("The file is not UTF-8 text."), {"file": _("not UTF-8 text")}) from None
    text = form.get("document")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(_("Choose a file or paste a document."), {"document": _("required")})
    return text


@access("admin")
async def preview(request: Request) -> Response:
    """POST /automation/pipelines/{id}/code/preview — the uploaded document's dry-run diff, with Apply."""
    return await _diff_page(request, apply=False)


@access("admin")
async def apply(request: Request) -> Response:
    """POST /automation/pipelines/{id}/code/apply — apply the document shown on the diff page."""
    return await _diff_page(request, apply=True)


async def _diff_page(request: Request, *, apply: bool) -> Response:
    pipeline_id = int(request.path_params["pipeline_id"])
    try:
        text = await _document_text(request)
    except ValidationError as exc:
        request.session["flash"] = (exc.message, "error")
        return RedirectResponse(f"/automation/pipelines/{pipeline_id}/code", status_code=303)

    def act(session: Session) -> dict[str, Any]:
        pipeline = _admin(request, session)
        try:
            changes = automation_code.import_document(session, pipeline.id, automation_code.parse(text),
                                                      dry_run=not apply, source="ui import")
        except ValidationError as exc:
            return {"pipeline": pipeline, "document": text, "errors": exc.fields or {"": exc.message},
                    "message": exc.message}
        return {"pipeline": pipeline, "document": text, "changes": changes}

    ctx = await in_tx(request, act)
    if apply and "changes" in ctx:
        request.session["flash"] = (_("Applied: %(what)s.", what=automation_code.summary(ctx["changes"])), "ok")
        return RedirectResponse(f"/automation/pipelines/{pipeline_id}/code", status_code=303)
    return render(request, "automation_code/diff.html",
                  {**ctx, "show": automation_code.show, "title": _("Import into “%(name)s”", name=ctx["pipeline"].name),
                   "action": f"/automation/pipelines/{pipeline_id}/code/apply"},
                  status_code=422 if "errors" in ctx else 200)


@access("admin")
async def copy(request: Request) -> Response:
    """POST /automation/pipelines/{id}/code/copy — this pipeline's document as an import into another one."""
    form = await request.form()
    target = str(form.get("target_pipeline_id", ""))

    def act(session: Session) -> tuple[int | None, str]:
        pipeline = _admin(request, session)
        found = session.get(Pipeline, int(target)) if target.isdigit() else None
        text = automation_code.dump(automation_code.export_document(session, pipeline.id), "yaml")
        return (found.id if found else None), text

    target_id, text = await in_tx(request, act)
    if target_id is None:
        request.session["flash"] = (_("Choose the pipeline to copy to."), "error")
        return RedirectResponse(f"/automation/pipelines/{request.path_params['pipeline_id']}/code", status_code=303)

    def diff(session: Session) -> dict[str, Any]:
        require_admin(web_user(request, session))
        pipeline = svc.get_pipeline(session, target_id)
        try:
            changes = automation_code.import_document(session, pipeline.id, automation_code.parse(text),
                                                      dry_run=True)
        except ValidationError as exc:
            return {"pipeline": pipeline, "document": text, "errors": exc.fields or {"": exc.message},
                    "message": exc.message}
        return {"pipeline": pipeline, "document": text, "changes": changes}

    ctx = await in_tx(request, diff)
    return render(request, "automation_code/diff.html",
                  {**ctx, "show": automation_code.show, "title": _("Copy to “%(name)s”", name=ctx["pipeline"].name),
                   "action": f"/automation/pipelines/{target_id}/code/apply"},
                  status_code=422 if "errors" in ctx else 200)


@access("admin")
async def version_page(request: Request) -> Response:
    """GET /automation/pipelines/{id}/versions/{n} — what a version changed, and Restore."""

    def load(session: Session) -> dict[str, Any]:
        pipeline = _admin(request, session)
        row = automation_versions.get_version(session, pipeline.id, int(request.path_params["version"]))
        user = session.get(User, row.user_id) if row.user_id else None
        current = automation_versions.current_version(session, pipeline.id)
        return {"pipeline": pipeline, "row": row, "author": user, "current": current}

    return render(request, "automation_code/version.html", {**await in_tx(request, load), "show": automation_code.show})


@access("admin")
async def restore(request: Request) -> Response:
    """POST /automation/pipelines/{id}/versions/{n}/restore — make the automation what it was then."""
    pipeline_id = int(request.path_params["pipeline_id"])
    version = int(request.path_params["version"])

    def act(session: Session) -> str:
        _admin(request, session)
        changes = automation_versions.restore(session, pipeline_id, version)
        return automation_code.summary(changes)

    try:
        what = await in_tx(request, act)
    except ValidationError as exc:
        # A version can name what no longer exists (a deleted stage, user or template): say so, change nothing.
        request.session["flash"] = (_("Version %(n)s cannot be restored: %(why)s", n=version,
                                      why="; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message),
                                    "error")
        return RedirectResponse(f"/automation/pipelines/{pipeline_id}/code", status_code=303)
    request.session["flash"] = (_("Version %(n)s restored: %(what)s.", n=version, what=what), "ok")
    return RedirectResponse(f"/automation/pipelines/{pipeline_id}/code", status_code=303)


BASE = "/automation/pipelines/{pipeline_id:int}"
routes = [
    Route(BASE + "/code", code_page, methods=["GET"]),
    Route(BASE + "/code.{fmt:str}", download, methods=["GET"]),
    Route(BASE + "/code/preview", preview, methods=["POST"]),
    Route(BASE + "/code/apply", apply, methods=["POST"]),
    Route(BASE + "/code/copy", copy, methods=["POST"]),
    Route(BASE + "/versions/{version:int}", version_page, methods=["GET"]),
    Route(BASE + "/versions/{version:int}/restore", restore, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Add the pages (called by the composition root)."""
    runtime.routes.extend(routes)
