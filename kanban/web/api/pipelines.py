"""API: pipelines and their stages (reading for everyone, changes for admins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.routing import Route

from kanban import policy
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Pipeline
from kanban.services import pipelines as svc
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import BOOL, INT, STR, arr, nullable, obj, page_of
from kanban.web.api.views import PIPELINE, STAGE, VISIBLE_TO, pipeline_view, stage_view

KIND = {"type": "string", "enum": list(svc.STAGE_KINDS)}
NEW_PIPELINE = obj({"name": STR, "stages": arr(obj({"name": STR, "kind": KIND}, ["name"]))}, ["name", "stages"])
NEW_STAGE = obj({"name": STR, "position": INT, "kind": KIND}, ["name"])
STAGE_CHANGES = obj({"name": STR, "kind": KIND, "probability": INT, "rotting_days": nullable(INT)})
PIPELINE_CHANGES = obj({"name": STR, "lost_reason_required": BOOL, "visible_to": VISIBLE_TO})
STAGE_ORDER = obj({"ids": arr(INT)}, ["ids"])
MOVE_TO = {"name": "move_to", "in": "query", "schema": INT,
           "description": "stage (same pipeline) that receives the deals of the deleted stage"}
RUN_ROBOTS = {"name": "run_robots", "in": "query", "schema": {"type": "integer", "enum": [0, 1]},
              "description": "0: move the deals without running the destination's robots (default 1)"}
ITEM = obj({"type": {"type": "string", "enum": ["robot", "trigger"]}, "id": INT, "name": STR, "kind": STR,
            "active": BOOL}, ["type", "id", "name", "kind", "active"])
PREVIEW = obj({"stage_id": INT, "deals": INT, "move_to": nullable(INT), "will_run": arr(ITEM),
               "removed": arr(ITEM)}, ["stage_id", "deals", "move_to", "will_run", "removed"])


@endpoint("List pipelines with their stages", response=page_of(PIPELINE), params=PAGE_PARAMS,
          access="authenticated")
def list_pipelines(call: Call) -> dict[str, Any]:
    """Pipelines ordered by id."""
    hidden = policy.grant(call.session, call.user).hidden_pipelines
    rows, nxt = paginate(call, select(Pipeline).where(Pipeline.id.not_in(sorted(hidden))), Pipeline.id)
    return page([pipeline_view(p) for p in rows], nxt)


@endpoint("Get a pipeline with its stages", response=PIPELINE, access="authenticated")
def get_pipeline(call: Call) -> dict[str, Any]:
    """One pipeline (404 when it is not visible to the caller)."""
    pipeline_id = call.path_int("pipeline_id")
    policy.require_pipeline(call.session, call.user, pipeline_id)
    return pipeline_view(svc.get_pipeline(call.session, pipeline_id))


@endpoint("Rename a pipeline, set its visibility (\"all\" or department ids) or require a reason to mark its "
          "deals lost", admin=True,
          body=PIPELINE_CHANGES, response=PIPELINE)
def update_pipeline(call: Call) -> dict[str, Any]:
    """The changed pipeline."""
    return pipeline_view(svc.update_pipeline(call.session, call.path_int("pipeline_id"), call.body()))


@endpoint("Create a pipeline with its stages", status=201, admin=True, body=NEW_PIPELINE, response=PIPELINE)
def create_pipeline(call: Call) -> dict[str, Any]:
    """A new pipeline."""
    data = call.body()
    return pipeline_view(svc.create_pipeline(call.session, data["name"], data["stages"]))


@endpoint("Add a stage to a pipeline (default: last)", status=201, admin=True, body=NEW_STAGE, response=STAGE)
def add_stage(call: Call) -> dict[str, Any]:
    """A new stage."""
    data = call.body()
    stage = svc.add_stage(call.session, call.path_int("pipeline_id"), data["name"], data.get("position"),
                          data.get("kind") or "open")
    return stage_view(stage)


@endpoint("Change a stage: name, kind, win probability (0-100), rotting days (null = never)", admin=True,
          body=STAGE_CHANGES, response=STAGE)
def update_stage(call: Call) -> dict[str, Any]:
    """The changed stage."""
    data = call.body()
    extra = {k: data[k] for k in ("probability", "rotting_days") if k in data}
    stage = svc.update_stage(call.session, call.path_int("stage_id"), name=data.get("name"), kind=data.get("kind"),
                             **extra)
    return stage_view(stage)


def _item(item: svc.AutomationItem) -> dict[str, Any]:
    return {"type": item.type, "id": item.id, "name": item.name, "kind": item.kind, "active": item.active}


@endpoint("What deleting a stage would do: the destination's robots that would run, the stage's own robots "
          "and triggers that go away", admin=True, params=[MOVE_TO], response=PREVIEW)
def deletion_preview(call: Call) -> dict[str, Any]:
    """The preview of DELETE /stages/{id} with the same move_to."""
    preview = svc.deletion_preview(call.session, call.path_int("stage_id"), call.query_int("move_to"),
                                   call.request.app.state.runtime.stage_automation)
    return {"stage_id": preview.stage.id, "deals": preview.deals,
            "move_to": preview.destination.id if preview.destination else None,
            "will_run": [_item(i) for i in preview.will_run], "removed": [_item(i) for i in preview.removed]}


@endpoint("Delete a stage; its deals move to `move_to` (its robots run unless run_robots=0)", status=204,
          admin=True, params=[MOVE_TO, RUN_ROBOTS])
def delete_stage(call: Call) -> None:
    """Archive a stage after moving its deals."""
    run_robots = call.query_int("run_robots", 1)
    if run_robots not in (0, 1):
        raise ValidationError(_("run_robots is 0 or 1"), {"run_robots": _("0 or 1")})
    svc.delete_stage(call.session, call.path_int("stage_id"), actor=Actor.user(call.user.id),
                     move_to=call.query_int("move_to"), run_robots=bool(run_robots))


@endpoint("Set the order of a pipeline's stages", admin=True, body=STAGE_ORDER, response=PIPELINE)
def reorder_stages(call: Call) -> dict[str, Any]:
    """The pipeline with its stages in the new order."""
    pipeline = svc.get_pipeline(call.session, call.path_int("pipeline_id"))
    svc.reorder_stages(call.session, pipeline.id, call.body()["ids"])
    call.session.refresh(pipeline)
    return pipeline_view(pipeline)


routes = [
    Route("/api/v1/pipelines", list_pipelines, methods=["GET"]),
    Route("/api/v1/pipelines", create_pipeline, methods=["POST"]),
    Route("/api/v1/pipelines/{pipeline_id:int}", get_pipeline, methods=["GET"]),
    Route("/api/v1/pipelines/{pipeline_id:int}", update_pipeline, methods=["PATCH"]),
    Route("/api/v1/pipelines/{pipeline_id:int}/stages", add_stage, methods=["POST"]),
    Route("/api/v1/pipelines/{pipeline_id:int}/stages/order", reorder_stages, methods=["PUT"]),
    Route("/api/v1/stages/{stage_id:int}", update_stage, methods=["PATCH"]),
    Route("/api/v1/stages/{stage_id:int}", delete_stage, methods=["DELETE"]),
    Route("/api/v1/stages/{stage_id:int}/deletion", deletion_preview, methods=["GET"]),
]
