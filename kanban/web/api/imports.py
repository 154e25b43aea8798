"""API: POST /imports — a CSV of persons, organizations or deals (multipart), dry run or real, in one request."""

from __future__ import annotations

import io
import json
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kanban.errors import ValidationError
from kanban.i18n import _
from kanban.imports import ENTITIES, import_csv
from kanban.web.access import access
from kanban.web.api.base import EndpointSpec
from kanban.web.api.schema import INT, STR, arr, obj
from kanban.web.deps import api_user, in_tx, require_admin

RESULT = obj({"created": INT, "updated": INT, "skipped": INT,
              "errors": arr(obj({"row": INT, "field": STR, "message": STR}, ["row", "field", "message"]))},
             ["created", "updated", "skipped", "errors"])
SPEC = EndpointSpec(
    "Import a CSV (multipart: file, entity, mapping JSON {column: field}, pipeline_id for deals, dry_run 0/1); "
    "nothing fires", admin=True, response=RESULT)


def _fields(form: Any) -> dict[str, Any]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationError(_("a CSV file is required"), {"file": _("attach the CSV as `file`")})
    entity = form.get("entity")
    if entity not in ENTITIES:
        raise ValidationError(_("unknown entity"), {"entity": _("deals, persons or organizations")})
    try:
        mapping = json.loads(form["mapping"]) if form.get("mapping") else None
    except json.JSONDecodeError:
        raise ValidationError(_("invalid mapping"), {"mapping": _("JSON object {CSV column: field}")}) from None
    raw_pipeline = form.get("pipeline_id") or None
    if raw_pipeline is not None and not str(raw_pipeline).isdigit():
        raise ValidationError(_("invalid pipeline_id"), {"pipeline_id": _("a pipeline id")})
    return {"upload": upload, "entity": entity, "mapping": mapping,
            "pipeline_id": int(raw_pipeline) if raw_pipeline else None,
            "dry_run": str(form.get("dry_run") or "0").lower() in ("1", "true", "yes")}


@access("admin")
async def import_file(request: Request) -> Response:
    """Run the import in the request's transaction and answer with the counts and row errors."""
    form = await request.form()

    def work(session: Session) -> dict[str, Any]:
        user = require_admin(api_user(request, session))  # 401 / 403 before the body is looked at
        data = _fields(form)
        lines = io.TextIOWrapper(data["upload"].file, encoding="utf-8-sig", newline="")
        result = import_csv(session, data["entity"], lines, mapping=data["mapping"], pipeline_id=data["pipeline_id"],
                            dry_run=data["dry_run"], actor_id=user.id)
        return result.as_dict()  # a dry run added nothing to the session: the commit writes nothing

    try:
        return JSONResponse(await in_tx(request, work))
    finally:
        await form.close()


import_file.openapi = SPEC  # type: ignore[attr-defined]
routes = [Route("/api/v1/imports", import_file, methods=["POST"])]
