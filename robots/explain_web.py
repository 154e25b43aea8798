"""Preview of a move, as JSON (`POST /api/v1/deals/{id}/preview-move`) and as the small popover the deal page's
move menu and the board's drag show (`GET /deals/{id}/preview-move?stage_id=`); and the robots' run log as a
source of the deal's decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kanban import decisions, policy
from kanban.errors import BadRequestError
from kanban.i18n import _
from kanban.services.deals import get_deal
from kanban.web.access import access
from kanban.web.api.base import Call, endpoint
from kanban.web.api.schema import ANY_OBJ, BOOL, INT, STR, arr, component, nullable, obj
from kanban.web.deps import in_tx, web_user
from kanban.web.templating import templates
from robots.explain import preview_move, run_decisions

CHECK = obj({"field": STR, "op": STR, "value": {}, "actual": {}, "result": nullable(BOOL)})
PREVIEW = component("MovePreview", obj({
    "deal_id": INT, "stage_id": INT, "stage_name": STR,
    "robots": arr(obj({"robot_id": INT, "name": STR, "kind": STR, "would_run": BOOL, "reason": STR,
                       "due_at": nullable(STR), "conditions": arr(CHECK)})),
    "automations": arr(obj({"automation_id": INT, "name": STR, "event": STR, "would_fire": BOOL, "outcome": STR,
                            "reason": STR, "values": ANY_OBJ, "actions": arr(STR)})),
}))


@endpoint("What moving a deal to a stage would run now or when, and which automations would fire (writes and "
          "sends nothing)", access="deal:move", body=obj({"stage_id": INT}, ["stage_id"]), response=PREVIEW)
def preview_move_api(call: Call) -> dict[str, Any]:
    """Robots of the stage with their due time and each condition's current result; automations that would fire."""
    deal = get_deal(call.session, call.path_int("deal_id"))
    return preview_move(call.session, deal, call.body()["stage_id"], call.user.id,
                        public_url=call.request.app.state.runtime.settings.public_url)


@access("deal:move")
async def preview_popover(request: Request) -> Response:
    """GET /deals/{id}/preview-move?stage_id= — the preview as a small HTML popover."""
    raw = request.query_params.get("stage_id", "")
    if not raw.isdigit() or len(raw) > 9:
        raise BadRequestError(_("stage_id must be a stage id"), {"stage_id": _("must be an integer")})

    def load(session: Session) -> str:
        user = web_user(request, session)
        deal = policy.require(session, user, "move", get_deal(session, request.path_params["deal_id"]))
        preview = preview_move(session, deal, int(raw), user.id,
                               public_url=request.app.state.runtime.settings.public_url)
        return templates.env.get_template("robots/preview.html").render({"request": request, "p": preview})

    return HTMLResponse(await in_tx(request, load))


routes = [
    Route("/api/v1/deals/{deal_id:int}/preview-move", preview_move_api, methods=["POST"]),
    Route("/deals/{deal_id:int}/preview-move", preview_popover, methods=["GET"]),
]


def install(runtime: Any) -> None:
    """Routes, and the run log as a source of the deal's "Why?" decisions."""
    runtime.routes.extend(routes)
    decisions.sources.append(run_decisions)
