"""API: a pipeline's automation as code (export, import with a dry-run diff, copy to another pipeline) and its
version history with restore (kanban.automation_code, kanban.automation_versions)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from kanban import automation_code, automation_versions, policy
from kanban.errors import BadRequestError
from kanban.i18n import _
from kanban.services import pipelines as svc
from kanban.web.api import schema
from kanban.web.api.base import Call, endpoint, parse_json

FORMAT = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["yaml", "json"], "default": "json"},
          "description": "yaml or json"}
DRY_RUN = {"name": "dry_run", "in": "query", "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
           "description": "1: only say what would change"}
CHANGE = schema.obj({"section": schema.STR, "key": schema.STR, "stage": schema.STR, "item": schema.ANY_OBJ,
                     "fields": schema.arr(schema.ANY_OBJ)}, closed=False)
DIFF = schema.component("AutomationDiff", schema.obj({
    "added": schema.arr(CHANGE), "changed": schema.arr(CHANGE), "removed": schema.arr(CHANGE),
    "dry_run": schema.BOOL, "version": schema.nullable(schema.INT),
}, closed=False))
VERSION = schema.component("AutomationVersion", schema.obj({
    "version": schema.INT, "at": schema.TIME, "user_id": schema.nullable(schema.INT), "source": schema.STR,
    "summary": schema.STR, "changes": schema.ANY_OBJ, "document": schema.ANY_OBJ,
}, closed=False))
COPY = schema.obj({"target_pipeline_id": schema.INT}, required=["target_pipeline_id"])


def _pipeline(call: Call, name: str = "pipeline_id") -> int:
    pipeline_id = call.path_int(name)
    svc.get_pipeline(call.session, pipeline_id)
    return pipeline_id


def _only(call: Call, *allowed: str) -> None:
    unknown = sorted(set(call.request.query_params) - set(allowed))
    if unknown:
        raise BadRequestError(_("unknown query parameter %(name)s", name=unknown[0]),
                              {name: _("unknown parameter") for name in unknown})


def _dry_run(call: Call) -> bool:
    raw = call.request.query_params.get("dry_run", "0").strip().lower()
    if raw not in ("0", "1", "true", "false", ""):
        raise BadRequestError(_("dry_run is 1 or 0"), {"dry_run": _("1 or 0")})
    return raw in ("1", "true")


def _result(call: Call, pipeline_id: int, changes: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    # An applied document was recorded when its savepoint committed: the current version is the new one.
    version = None if dry_run else automation_versions.current_version(call.session, pipeline_id)
    return {**changes, "dry_run": dry_run, "version": version}


@endpoint("Export a pipeline's robots, triggers and automations (stable keys, no ids, no secrets)", admin=True,
          params=[FORMAT], response=schema.ANY_OBJ)
def export_automation(call: Call) -> Any:
    """The automation document as JSON, or as YAML with format=yaml."""
    _only(call, "format")
    fmt = call.request.query_params.get("format", "json")
    if fmt not in ("yaml", "json"):
        raise BadRequestError(_("format is yaml or json"), {"format": _("yaml or json")})
    doc = automation_code.export_document(call.session, _pipeline(call))
    if fmt == "json":
        return doc
    return Response(automation_code.dump(doc, "yaml"), media_type="application/yaml")


@endpoint("Import an automation document (YAML or JSON body): the diff, applied in one transaction unless "
          "dry_run=1", admin=True, params=[DRY_RUN], response=DIFF)
def import_automation(call: Call) -> dict[str, Any]:
    """Make the pipeline's automation what the document says; 422 names the document path of each problem."""
    _only(call, "dry_run")
    dry_run = _dry_run(call)
    pipeline_id = _pipeline(call)
    if "json" in call.request.headers.get("content-type", ""):
        doc = parse_json(call.raw_body)
    else:
        doc = automation_code.parse(call.raw_body)
    changes = automation_code.import_document(call.session, pipeline_id, doc, dry_run=dry_run, source="api import")
    return _result(call, pipeline_id, changes, dry_run)


@endpoint("Copy a pipeline's automation onto another pipeline (stages matched by name)", admin=True, body=COPY,
          params=[DRY_RUN], response=DIFF)
def copy_automation(call: Call) -> dict[str, Any]:
    """The target's diff; without dry_run the target's robots, triggers and automations become the source's."""
    _only(call, "dry_run")
    dry_run = _dry_run(call)
    source = _pipeline(call)
    target = call.body()["target_pipeline_id"]
    policy.require_pipeline(call.session, call.user, target)
    svc.get_pipeline(call.session, target)
    doc = automation_code.export_document(call.session, source)
    changes = automation_code.import_document(call.session, target, doc, dry_run=dry_run,
                                              source=f"copy from pipeline {source}")
    return _result(call, target, changes, dry_run)


@endpoint("A pipeline's automation versions, newest first", admin=True,
          response=schema.obj({"items": schema.arr(VERSION)}, closed=False))
def history(call: Call) -> dict[str, Any]:
    """Every version: number, when, who, how (ui, api, import, restore) and what changed."""
    _only(call)
    rows = automation_versions.history(call.session, _pipeline(call), limit=500)
    return {"items": [automation_versions.version_view(r) for r in rows]}


@endpoint("One automation version with its document", admin=True, response=VERSION)
def get_version(call: Call) -> dict[str, Any]:
    """The version and the full document it stored."""
    row = automation_versions.get_version(call.session, _pipeline(call), call.path_int("version"))
    return {**automation_versions.version_view(row), "document": row.document}


@endpoint("Restore an automation version (recorded as a new version)", admin=True, params=[DRY_RUN],
          response=DIFF)
def restore(call: Call) -> dict[str, Any]:
    """Make the automation what it was at that version; dry_run=1 only gives the diff."""
    _only(call, "dry_run")
    dry_run = _dry_run(call)
    pipeline_id = _pipeline(call)
    version = call.path_int("version")
    if dry_run:
        row = automation_versions.get_version(call.session, pipeline_id, version)
        changes = automation_code.import_document(call.session, pipeline_id, row.document, dry_run=True)
    else:
        changes = automation_versions.restore(call.session, pipeline_id, version)
    return _result(call, pipeline_id, changes, dry_run)


BASE = "/api/v1/pipelines/{pipeline_id:int}/automation"
routes = [
    Route(BASE, export_automation, methods=["GET"]),
    Route(BASE, import_automation, methods=["PUT"]),
    Route(BASE + "/copy", copy_automation, methods=["POST"]),
    Route(BASE + "/history", history, methods=["GET"]),
    Route(BASE + "/history/{version:int}", get_version, methods=["GET"]),
    Route(BASE + "/history/{version:int}/restore", restore, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Add the routes (called by the composition root)."""
    runtime.routes.extend(routes)
