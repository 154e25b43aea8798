"""JSON API for event automations: CRUD, their actions (robot bodies), action order and execution history."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban.web.api import schema
from kanban.web.api.base import PAGE_PARAMS, Call, decode_cursor, encode_cursor, endpoint, iso, limit_of, page
from robots import automations, config
from robots.api import ROBOT, ROBOT_BODY, RUN, run_view

BODY = schema.obj({
    "name": schema.STR, "description": schema.nullable(schema.STR), "event": schema.STR,
    "pipeline_id": schema.nullable(schema.INT), "condition": schema.nullable(schema.ANY_OBJ),
    "fields": schema.nullable(schema.arr(schema.STR)), "triggered_by": schema.nullable(schema.ANY_OBJ),
    "active": schema.BOOL,
})
AUTOMATION = schema.component("Automation", schema.obj({
    "id": schema.INT, "name": schema.STR, "description": schema.STR, "event": schema.STR,
    "pipeline_id": schema.nullable(schema.INT), "condition": schema.nullable(schema.ANY_OBJ),
    "fields": schema.arr(schema.STR), "triggered_by": schema.nullable(schema.ANY_OBJ), "active": schema.BOOL,
    "owner_id": schema.nullable(schema.INT), "created_at": schema.nullable(schema.TIME),
}, closed=False))
EXECUTION = schema.component("AutomationExecution", schema.obj({
    "id": schema.INT, "event": schema.nullable(schema.STR), "event_id": schema.INT,
    "deal_id": schema.nullable(schema.INT),
    "subject": schema.obj({"type": schema.STR, "id": schema.INT}),
    "status": schema.STR, "reason": schema.nullable(schema.STR), "at": schema.TIME, "runs": schema.arr(RUN),
}, closed=False))


@endpoint("List automations", response=schema.page_of(AUTOMATION), admin=True)
def list_automations(call: Call) -> dict[str, Any]:
    """Every automation, oldest first."""
    return page([automations.automation_view(a) for a in automations.list_automations(call.session)], None)


@endpoint("Create an automation", status=201, admin=True, body=BODY, response=AUTOMATION)
def create_automation(call: Call) -> dict[str, Any]:
    """Validate and add an automation owned by the caller."""
    body = {k: v for k, v in call.body().items() if not (k == "description" and v is None)}
    return automations.automation_view(automations.create_automation(call.session, body, owner_id=call.user.id))


@endpoint("Get an automation", admin=True, response=AUTOMATION)
def get_automation(call: Call) -> dict[str, Any]:
    """One automation."""
    return automations.automation_view(automations.get_automation(call.session, call.path_int("automation_id")))


@endpoint("Change an automation", admin=True, body=BODY, response=AUTOMATION)
def update_automation(call: Call) -> dict[str, Any]:
    """Replace the given fields (turning it off cancels its pending runs)."""
    automation = automations.update_automation(call.session, call.path_int("automation_id"), call.body())
    return automations.automation_view(automation)


@endpoint("Delete an automation", admin=True)
def delete_automation(call: Call) -> None:
    """Delete an automation, its actions and its history."""
    automations.delete_automation(call.session, call.path_int("automation_id"))


@endpoint("List an automation's actions in order", admin=True, response=schema.page_of(ROBOT))
def list_actions(call: Call) -> dict[str, Any]:
    """The automation's robots, top to bottom."""
    return page([config.robot_view(r) for r in automations.actions(call.session, call.path_int("automation_id"))],
                None)


@endpoint("Add an action to an automation", status=201, admin=True, body=ROBOT_BODY, response=ROBOT)
def create_action(call: Call) -> dict[str, Any]:
    """Validate and add a robot at the end (after_previous defaults to true: actions run top to bottom)."""
    result = automations.add_action(call.session, call.path_int("automation_id"), call.body())
    return config.robot_view(result.robot, result.warnings)


@endpoint("Set the order of an automation's actions", admin=True,
          body=schema.obj({"ids": schema.arr(schema.INT)}, ["ids"]), response=schema.page_of(ROBOT))
def order_actions(call: Call) -> dict[str, Any]:
    """Reorder; refused when an action would lose access to outputs it uses."""
    ordered = automations.reorder_actions(call.session, call.path_int("automation_id"), call.body()["ids"])
    return page([config.robot_view(r) for r in ordered], None)


@endpoint("Executions of an automation", admin=True, params=PAGE_PARAMS, response=schema.page_of(EXECUTION))
def list_executions(call: Call) -> dict[str, Any]:
    """Newest first: each matched event, its deal, status and the runs of its actions."""
    automation = automations.get_automation(call.session, call.path_int("automation_id"))
    limit = limit_of(call)
    cursor = call.query_str("cursor")
    before = decode_cursor(cursor) if cursor else None
    rows = automations.executions(call.session, automation.id, limit=limit + 1,
                                  before_id=before if isinstance(before, int) else None)
    items = [execution_view(e, ev, runs, automation.id) for e, ev, runs in rows[:limit]]
    return page(items, encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None)


def execution_view(execution: Any, event: Any, runs: list[Any], automation_id: int) -> dict[str, Any]:
    """The API shape of an execution."""
    return {
        "id": execution.id, "event": event.type if event else None, "event_id": execution.event_id,
        "deal_id": execution.deal_id, "subject": {"type": execution.subject_type, "id": execution.subject_id},
        "status": automations.execution_status(execution, runs),
        "reason": execution.reason, "at": iso(execution.created_at),
        "runs": [run_view(r, None, automation_id) for r in runs],
    }


routes = [
    Route("/api/v1/automations", list_automations, methods=["GET"]),
    Route("/api/v1/automations", create_automation, methods=["POST"]),
    Route("/api/v1/automations/{automation_id:int}", get_automation, methods=["GET"]),
    Route("/api/v1/automations/{automation_id:int}", update_automation, methods=["PATCH"]),
    Route("/api/v1/automations/{automation_id:int}", delete_automation, methods=["DELETE"]),
    Route("/api/v1/automations/{automation_id:int}/actions", list_actions, methods=["GET"]),
    Route("/api/v1/automations/{automation_id:int}/actions", create_action, methods=["POST"]),
    Route("/api/v1/automations/{automation_id:int}/actions/order", order_actions, methods=["PUT"]),
    Route("/api/v1/automations/{automation_id:int}/executions", list_executions, methods=["GET"]),
]


def install(runtime: Any) -> None:
    """Add the automation API routes to the runtime."""
    runtime.routes.extend(routes)
