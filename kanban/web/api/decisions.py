"""API: a deal's decisions — every robot, trigger and automation considered for it, with outcome and reason."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import decisions
from kanban.web.api.base import Call, endpoint, iso, limit_of
from kanban.web.api.schema import ANY_OBJ, INT, STR, TIME, arr, component, nullable, obj

DECISION = component("Decision", obj({
    "at": TIME, "source": {"type": "string", "enum": list(decisions.SOURCES_KINDS)}, "source_id": nullable(INT),
    "name": STR, "outcome": {"type": "string", "enum": list(decisions.OUTCOMES)}, "reason": STR,
    "values": ANY_OBJ,
}))
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 50},
         "description": "how many of the newest decisions (at most 500)"}


def decision_view(item: dict[str, Any]) -> dict[str, Any]:
    """The API shape of one decision."""
    return {"at": iso(item["at"]), "source": item["source"], "source_id": item["source_id"], "name": item["name"],
            "outcome": item["outcome"], "reason": item["reason"], "values": item["values"]}


@endpoint("Why robots, triggers and automations did or did not act on a deal (newest first)", access="deal:read",
          params=[LIMIT], response=obj({"items": arr(DECISION), "next": nullable(STR)}))
def list_decisions(call: Call) -> dict[str, Any]:
    """The deal's decisions within the retention, newest first."""
    items = decisions.for_deal(call.session, call.path_int("deal_id"), limit_of(call))
    return {"items": [decision_view(i) for i in items], "next": None}


routes = [Route("/api/v1/deals/{deal_id:int}/decisions", list_decisions, methods=["GET"])]
