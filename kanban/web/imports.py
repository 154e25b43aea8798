"""The /imports pages: upload a CSV, map its columns, dry run, then import with a live progress bar (admins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import import_jobs, queries
from kanban.crm_models import ImportJob
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.imports import ENTITIES, FIELDS, REQUIRED
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.forms import optional_int, text
from kanban.web.templating import render


def _admin(request: Request, session: Session) -> None:
    require_admin(web_user(request, session))


def _index_context(session: Session, **extra: Any) -> dict[str, Any]:
    jobs = list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(20)))
    return {"jobs": jobs, "entities": ENTITIES, "pipelines": queries.pipelines(session), "errors": {},
            "message": None, "message_kind": "info", **extra}


@access("admin")
async def index(request: Request) -> Response:
    """GET /imports — the upload form and recent imports."""
    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        return _index_context(session)

    return render(request, "imports/index.html", await in_tx(request, load))


@access("admin")
async def upload(request: Request) -> Response:
    """POST /imports — store the file as a draft import, then map its columns."""
    form = await request.form()
    upload_ = form.get("file")
    raw = await upload_.read() if isinstance(upload_, UploadFile) else b""
    await form.close()

    def work(session: Session) -> int:
        user = web_user(request, session)
        require_admin(user)
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(_("the file is not UTF-8 text"), {"file": _("save the CSV as UTF-8")}) from None
        return import_jobs.create_job(session, entity=text(form, "entity"), content=content, user_id=user.id,
                                      pipeline_id=optional_int(form, "pipeline_id")).id

    try:
        job_id = await in_tx(request, work)
    except ValidationError as exc:
        fields, why = exc.fields, exc.message

        def reload(session: Session) -> dict[str, Any]:
            return _index_context(session, errors=fields, message=_("Not uploaded: %(why)s.",
                                                                     why=why), message_kind="error")

        return render(request, "imports/index.html", await in_tx(request, reload), status_code=422)
    url = f"/imports/{job_id}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _job_context(session: Session, job: ImportJob, **extra: Any) -> dict[str, Any]:
    fields = list(FIELDS[job.entity]) + (["fields.<name>"] if job.entity == "deals" else [])
    header = import_jobs.header_of(job.content) if job.content else []
    return {"job": job, "header": header, "fields": fields, "required": REQUIRED[job.entity], "result": None,
            "errors": {}, "message": None, "message_kind": "info", **extra}


@access("admin")
async def job_page(request: Request) -> Response:
    """GET /imports/{id} — mapping form (draft), progress (queued / running) or the result (done)."""
    job_id = request.path_params["job_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        return _job_context(session, import_jobs.get_job(session, job_id))

    return render(request, "imports/job.html", await in_tx(request, load))


def _mapping(form: Any, header: list[str]) -> dict[str, str]:
    """The form's column → field choices; a custom deal field is typed next to "fields.<name>"."""
    out: dict[str, str] = {}
    for i, column in enumerate(header):
        target = text(form, f"map_{i}")
        if target == "fields.<name>":
            name = text(form, f"custom_{i}")
            target = f"fields.{name}" if name else ""
        if target:
            out[column] = target
    return out


@access("admin")
async def act(request: Request) -> Response:
    """POST /imports/{id}/dry-run or /run — check the mapping, then report (dry run) or queue the import."""
    job_id, action = request.path_params["job_id"], request.path_params["action"]
    if action not in ("dry-run", "run"):
        raise NotFoundError(_("no action %(action)s", action=repr(action)))
    form = await request.form()

    def work(session: Session) -> dict[str, Any] | None:
        _admin(request, session)
        job = import_jobs.get_job(session, job_id)
        if job.status != "draft":
            return None
        mapping = _mapping(form, import_jobs.header_of(job.content))
        try:
            if action == "run":
                import_jobs.queue(session, job, mapping)
                return None
            result = import_jobs.dry_run(session, job, mapping)
            return _job_context(session, job, result=result.as_dict())
        except ValidationError as exc:
            job.mapping = mapping
            return _job_context(session, job, errors=exc.fields, message=_("Check the mapping: %(message)s.",
                                                                            message=exc.message),
                                message_kind="error")

    ctx = await in_tx(request, work)
    if ctx is None:
        return RedirectResponse(f"/imports/{job_id}", status_code=303)
    return render(request, "imports/job.html", ctx, status_code=422 if ctx["errors"] else 200)


@access("admin")
async def progress(request: Request) -> Response:
    """GET /imports/{id}/progress — the progress fragment the job page polls."""
    job_id = request.path_params["job_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        return {"job": import_jobs.get_job(session, job_id)}

    return render(request, "imports/_progress.html", await in_tx(request, load))


routes = [
    Route("/imports", index, methods=["GET"]),
    Route("/imports", upload, methods=["POST"]),
    Route("/imports/{job_id:int}", job_page, methods=["GET"]),
    Route("/imports/{job_id:int}/progress", progress, methods=["GET"]),
    Route("/imports/{job_id:int}/{action:str}", act, methods=["POST"]),
]
