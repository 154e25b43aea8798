"""JSON API for robots: kinds, per-stage configuration, order, runs of a deal, retry and run-for-existing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.routing import Route

from kanban.errors import BadRequestError, ConflictError, NotFoundError, ValidationError
from kanban.i18n import _
from kanban.services.deals import get_deal
from kanban.services.pipelines import get_stage
from kanban.web.api import schema
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, iso, page, paginate
from robots import config
from robots.models import Robot, RobotRun
from robots.registry import RobotKind, load_kinds

ROBOT_BODY = schema.obj({
    "kind": schema.STR, "name": schema.nullable(schema.STR), "key": schema.nullable(schema.STR),
    "settings": schema.ANY_OBJ, "delay": schema.nullable(schema.ANY_OBJ),
    "condition": schema.nullable(schema.ANY_OBJ), "after_previous": schema.BOOL, "active": schema.BOOL,
})
ROBOT = schema.component("Robot", schema.obj({
    "id": schema.INT, "stage_id": schema.INT, "kind": schema.STR, "name": schema.STR, "key": schema.STR,
    "settings": schema.ANY_OBJ, "delay": schema.ANY_OBJ, "condition": schema.nullable(schema.ANY_OBJ),
    "after_previous": schema.BOOL, "active": schema.BOOL, "position": schema.INT,
    "warnings": schema.arr(schema.STR),
}, closed=False))
RUN = schema.component("RobotRun", schema.obj({
    "id": schema.INT, "robot_id": schema.INT, "robot_key": schema.STR, "robot_name": schema.nullable(schema.STR),
    "kind": schema.STR, "stage_id": schema.nullable(schema.INT), "stage_entry_id": schema.nullable(schema.INT),
    "automation_id": schema.nullable(schema.INT), "execution_id": schema.nullable(schema.INT), "status": schema.STR,
    "due_at": schema.nullable(schema.TIME), "started_at": schema.nullable(schema.TIME),
    "finished_at": schema.nullable(schema.TIME), "attempts": schema.INT, "outputs": schema.ANY_OBJ,
    "error": schema.nullable(schema.STR), "reason": schema.nullable(schema.STR),
    "automation_version": schema.nullable(schema.INT),
}, closed=False))
KIND = schema.component("RobotKind", schema.obj({
    "kind": schema.STR, "title": schema.STR, "category": schema.STR, "settings_schema": schema.ANY_OBJ,
    "outputs": schema.arr(schema.STR), "templates": schema.ANY_OBJ, "description": schema.STR,
    "needs_deal": schema.BOOL,
}, closed=False))


def kind_view(cls: type[RobotKind]) -> dict[str, Any]:
    """What a client needs to offer and configure a kind."""
    return {
        "kind": cls.kind, "title": cls.title, "category": cls.category,
        "settings_schema": cls.Settings.model_json_schema(), "outputs": list(cls.outputs),
        "templates": dict(cls.templates), "description": (cls.__doc__ or "").strip().split("\n")[0],
        "needs_deal": cls.needs_deal,  # False: also runs in automations without a deal (robots.subjects)
    }


def run_view(run: RobotRun, robot_name: str | None = None, automation_id: int | None = None) -> dict[str, Any]:
    """The API shape of a robot run (an automation's run has execution_id and automation_id, no stage entry)."""
    return {
        "id": run.id, "robot_id": run.robot_id, "robot_key": run.robot_key, "robot_name": robot_name,
        "kind": run.kind, "stage_id": run.stage_id, "stage_entry_id": run.stage_entry_id,
        "execution_id": run.execution_id, "automation_id": automation_id, "status": run.status,
        "due_at": iso(run.due_at), "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
        "attempts": run.attempts, "outputs": run.outputs or {}, "error": run.error, "reason": run.reason,
        "automation_version": run.automation_version,
    }


@endpoint("List robot kinds", response=schema.page_of(KIND), access="authenticated")
def list_kinds(call: Call) -> dict[str, Any]:
    """Every registered kind with its settings schema and outputs."""
    return page([kind_view(cls) for _, cls in load_kinds().items()], None)


@endpoint("List a stage's robots in order (admins only: settings hold URLs and keys)", admin=True,
          response=schema.page_of(ROBOT))
def list_robots(call: Call) -> dict[str, Any]:
    """A stage's robots in execution order."""
    stage = get_stage(call.session, call.path_int("stage_id"))
    return page([config.robot_view(r) for r in config.stage_robots(call.session, stage.id)], None)


@endpoint("Add a robot to a stage", status=201, admin=True, body=ROBOT_BODY, response=ROBOT)
def create_robot(call: Call) -> dict[str, Any]:
    """Validate and add a robot at the end of the stage."""
    result = config.create_robot(call.session, call.path_int("stage_id"), call.body(), saved_by=call.user.id)
    view = config.robot_view(result.robot, result.warnings)
    if result.robot.secret:
        view["secret"] = result.robot.secret  # shown once: a webhook robot's signing secret
    return view


@endpoint("Give a webhook robot a new signing secret (shown once in the response)", admin=True, body=None,
          response=ROBOT)
def rotate_robot_secret(call: Call) -> dict[str, Any]:
    """The robot with its new secret."""
    robot, secret = config.rotate_secret(call.session, call.path_int("robot_id"))
    return {**config.robot_view(robot), "secret": secret}


@endpoint("Get a robot (admins only: settings hold URLs and keys)", admin=True, response=ROBOT)
def get_robot(call: Call) -> dict[str, Any]:
    """One robot."""
    return config.robot_view(config.get_robot(call.session, call.path_int("robot_id")))


@endpoint("Change a robot", admin=True, body=ROBOT_BODY, response=ROBOT)
def update_robot(call: Call) -> dict[str, Any]:
    """Replace the given fields of a robot, validating the result."""
    result = config.update_robot(call.session, call.path_int("robot_id"), call.body(), saved_by=call.user.id)
    return config.robot_view(result.robot, result.warnings)


@endpoint("Delete a robot", admin=True)
def delete_robot(call: Call) -> None:
    """Delete a robot (refused while a robot below uses its outputs)."""
    config.delete_robot(call.session, call.path_int("robot_id"))


@endpoint("Set the order of a stage's robots", admin=True,
          body=schema.obj({"ids": schema.arr(schema.INT)}, ["ids"]), response=schema.page_of(ROBOT))
def order_robots(call: Call) -> dict[str, Any]:
    """Reorder; refused when a robot would lose access to outputs it uses."""
    ordered = config.reorder_robots(call.session, call.path_int("stage_id"), call.body()["ids"])
    return page([config.robot_view(r) for r in ordered], None)


@endpoint("Robot runs of a deal", params=PAGE_PARAMS, response=schema.page_of(RUN), access="deal:read")
def deal_runs(call: Call) -> dict[str, Any]:
    """Runs of a deal, oldest first."""
    deal = get_deal(call.session, call.path_int("deal_id"))
    rows, cursor = paginate(call, select(RobotRun).where(RobotRun.deal_id == deal.id), RobotRun.id)
    owners = robot_owners(call, {r.robot_id for r in rows})
    return page([run_view(r, *owners.get(r.robot_id, (None, None))) for r in rows], cursor)


def robot_owners(call: Call, ids: set[int]) -> dict[int, tuple[str, int | None]]:
    """Name and automation of robots by id (runs outlive renames, so the current name is looked up)."""
    if not ids:
        return {}
    rows = call.session.execute(select(Robot.id, Robot.name, Robot.automation_id).where(Robot.id.in_(ids)))
    return {rid: (name, automation_id) for rid, name, automation_id in rows}


@endpoint("Retry a failed run", status=202, admin=True, response=RUN)
def retry_run(call: Call) -> dict[str, Any]:
    """Schedule a failed run again now (409 unless it failed)."""
    from robots.engine import retry_run as engine_retry

    run = call.session.get(RobotRun, call.path_int("run_id"))
    if run is None:
        raise NotFoundError(_("run %(path_int)s not found", path_int=call.path_int('run_id')))
    if run.status != "failed":
        raise ConflictError(_("only failed runs can be retried (this one is %(status)s)", status=run.status))
    engine_retry(call.session, run.id)
    return run_view(run)


MAX_BULK_RETRY = 1000
RETRY_FILTER = schema.obj({"robot_id": schema.nullable(schema.INT), "automation_id": schema.nullable(schema.INT),
                           "status": {"type": "string", "enum": ["failed"]}, "since": schema.nullable(schema.TIME)},
                          ["status"])


@endpoint("Retry failed runs in bulk, by robot, automation and time (oldest first, at most 1000 per call)",
          admin=True, body=RETRY_FILTER,
          response=schema.obj({"retried": schema.INT, "skipped": schema.INT, "more": schema.BOOL}))
def bulk_retry(call: Call) -> dict[str, Any]:
    """Schedule matching failed runs again; runs whose deal left their stage are skipped (counted)."""
    from robots.engine import retry_run as engine_retry

    data = call.body()
    if data.get("status") != "failed":
        raise ValidationError(_("only failed runs can be retried"), {"status": _("must be \"failed\"")})
    stmt = select(RobotRun.id).where(RobotRun.status == "failed")
    if data.get("robot_id") is not None:
        stmt = stmt.where(RobotRun.robot_id == data["robot_id"])
    if data.get("automation_id") is not None:
        stmt = stmt.join(Robot, Robot.id == RobotRun.robot_id).where(Robot.automation_id == data["automation_id"])
    if data.get("since") is not None:
        try:
            since = datetime.fromisoformat(str(data["since"]).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(_("since must be an ISO 8601 time"), {"since": _("not an ISO 8601 time")}) from None
        stmt = stmt.where(RobotRun.finished_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    ids = list(call.session.scalars(stmt.order_by(RobotRun.id).limit(MAX_BULK_RETRY + 1)))
    retried = skipped = 0
    for run_id in ids[:MAX_BULK_RETRY]:
        try:
            with call.session.begin_nested():
                engine_retry(call.session, run_id)
            retried += 1
        except ConflictError:
            skipped += 1
    return {"retried": retried, "skipped": skipped, "more": len(ids) > MAX_BULK_RETRY}


@endpoint("Run a robot for the deals already in its stage", admin=True, body=None,
          params=[{"name": "dry_run", "in": "query", "schema": {"type": "integer", "enum": [0, 1]}}])
def run_existing(call: Call) -> dict[str, Any]:
    """With ?dry_run=1 only count the deals; otherwise schedule a run for each of them."""
    from robots.scheduling import count_existing, schedule_existing

    robot = config.get_robot(call.session, call.path_int("robot_id"))
    dry = call.query_str("dry_run")
    if dry not in (None, "0", "1", "true", "false"):
        raise BadRequestError(_("dry_run is 0 or 1"), {"dry_run": _("0 or 1")})
    if dry in ("1", "true"):
        return {"count": count_existing(call.session, robot.id), "dry_run": True}
    return {"count": schedule_existing(call.session, robot.id), "dry_run": False}


routes = [
    Route("/api/v1/robot-kinds", list_kinds, methods=["GET"]),
    Route("/api/v1/stages/{stage_id:int}/robots", list_robots, methods=["GET"]),
    Route("/api/v1/stages/{stage_id:int}/robots", create_robot, methods=["POST"]),
    Route("/api/v1/stages/{stage_id:int}/robots/order", order_robots, methods=["PUT"]),
    Route("/api/v1/robots/{robot_id:int}", get_robot, methods=["GET"]),
    Route("/api/v1/robots/{robot_id:int}", update_robot, methods=["PATCH"]),
    Route("/api/v1/robots/{robot_id:int}", delete_robot, methods=["DELETE"]),
    Route("/api/v1/robots/{robot_id:int}/run-existing", run_existing, methods=["POST"]),
    Route("/api/v1/robots/{robot_id:int}/rotate-secret", rotate_robot_secret, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/runs", deal_runs, methods=["GET"]),
    Route("/api/v1/runs/{run_id:int}/retry", retry_run, methods=["POST"]),
    Route("/api/v1/runs/retry", bulk_retry, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Add the robot API routes to the runtime."""
    runtime.routes.extend(routes)
