"""The deal page's robot-run log (grouped by stage entry or automation execution) and the admin's retry of a
failed run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.domain_events import DomainEvent
from kanban.errors import ConflictError, NotFoundError
from kanban.i18n import _
from kanban.models import Deal, Stage, StageEntry
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import templates
from robots.models import Automation, AutomationExecution, Robot, RobotRun
from robots.scheduling import group_key

# Glyphs present in common system fonts (DejaVu), so they render without emoji fonts.
ICONS = {"scheduled": "◷", "waiting": "⋯", "running": "▶", "done": "✔", "skipped": "↷", "cancelled": "✖",
         "failed": "⚠", "blocked": "⊘"}
MAX_ENTRIES = 20


def entries_with_runs(session: Session, deal_id: int) -> list[dict[str, Any]]:
    """The deal's most recent run groups, newest first, each with its runs in order: stage entries (stage robots)
    and automation executions (an automation's actions), side by side."""
    runs = list(session.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id)
                                .order_by(RobotRun.id.desc())))
    keys = list(dict.fromkeys(group_key(r) for r in runs))[:MAX_ENTRIES]
    if not keys:
        return []
    entry_ids = {k[1] for k in keys if k[0] == "entry"}
    execution_ids = {k[1] for k in keys if k[0] == "execution"}
    entries = {e.id: e for e in session.scalars(select(StageEntry).where(StageEntry.id.in_(entry_ids)))}
    stages = {s.id: s.name for s in session.scalars(select(Stage).where(Stage.id.in_({e.stage_id for e in
                                                                                     entries.values()})))}
    executions = {row.id: row for row in session.execute(
        select(AutomationExecution.id, AutomationExecution.created_at, AutomationExecution.reason,
               Automation.name, DomainEvent.type)
        .join(Automation, Automation.id == AutomationExecution.automation_id)
        .join(DomainEvent, DomainEvent.id == AutomationExecution.event_id)
        .where(AutomationExecution.id.in_(execution_ids)))}
    robots = {r.id: r for r in session.scalars(select(Robot).where(Robot.id.in_({r.robot_id for r in runs})))}
    groups = []
    for key in keys:
        items = [{"run": r, "icon": ICONS.get(r.status, "•"), "robot": robots.get(r.robot_id)}
                 for r in sorted(runs, key=lambda r: (r.position, r.id)) if group_key(r) == key]
        if key[0] == "entry":
            entry = entries[key[1]]
            groups.append({"entry": entry, "execution": None, "stage_name": stages.get(entry.stage_id, "?"),
                           "runs": items})
        else:
            execution = executions[key[1]]
            groups.append({"entry": None, "execution": execution, "stage_name": None, "runs": items})
    return groups


def panel(request: Request, session: Session, deal: Deal) -> str:
    """The run log panel for the deal page (retry buttons only for admins)."""
    user = request.scope.get("user")
    ctx = {"request": request, "deal": deal, "groups": entries_with_runs(session, deal.id),
           "is_admin": getattr(user, "role", None) == "admin"}
    return templates.env.get_template("robots/runlog.html").render(ctx)


@access("admin")
async def retry(request: Request) -> Response:
    """POST /automation/runs/{id}/retry — an admin schedules a failed run again."""
    from robots.engine import retry_run

    run_id = request.path_params["run_id"]

    def act(session: Session) -> tuple[int, str]:
        require_admin(web_user(request, session))
        run = session.get(RobotRun, run_id)
        if run is None:
            raise NotFoundError(_("run %(run_id)s not found", run_id=run_id))
        if run.status != "failed":
            return run.deal_id, _("Only failed runs can be retried (this one is %(status)s).", status=run.status)
        retry_run(session, run.id)
        return run.deal_id, _("The run was scheduled again.")

    try:
        deal_id, message = await in_tx(request, act)
    except ConflictError as exc:
        deal_id = await in_tx(request, lambda s: s.get(RobotRun, run_id).deal_id)
        message = exc.message
    request.session["flash"] = (message, "ok")
    # A run without a deal (an automation's, on a person or organization): back to the automations.
    target = f"/deals/{deal_id}#robot-runs" if deal_id is not None else "/automations"
    return RedirectResponse(target, status_code=303)


routes = [Route("/automation/runs/{run_id:int}/retry", retry, methods=["POST"])]
