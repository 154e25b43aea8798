"""Automation view: each column's robots (add, edit, reorder, enable, delete, run for deals already there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kanban import company
from kanban.errors import KanbanError, NotFoundError, ValidationError
from kanban.i18n import N_, _
from kanban.models import Department, Pipeline, Stage, User
from kanban.services.pipelines import get_stage
from kanban.web import condition_form
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render
from robots import config, describe, forms, references, runlog
from robots.cycles import cycle_warnings
from robots.email_templates import list_templates
from robots.models import Automation, Robot
from robots.registry import RobotKind, load_kinds
from robots.values import KNOWN_PLACEHOLDERS

STATIC = Path(__file__).resolve().parent / "static"
CATEGORIES = {"notify": N_("Notifications"), "communication": N_("Chats and feed"), "email_sms": N_("Email and SMS"),
              "payments": N_("Payments"), "deal": N_("Deal"), "integration": N_("Integrations")}
OPS = condition_form.OP_LABELS  # one list of operator words for the robot and trigger forms
CONDITION_ROWS = 2  # empty rows offered under the filled ones


def _admin(request: Request, session: Session) -> User:
    return require_admin(web_user(request, session))


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = (message, kind)


@access("admin")
async def automation_page(request: Request) -> Response:
    """GET /automation?pipeline_id= — the board's columns with their robots and triggers."""
    raw = request.query_params.get("pipeline_id", "")
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        pipelines = list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
        chosen = next((p for p in pipelines if str(p.id) == raw), pipelines[0] if pipelines else None)
        columns = [_column(request, session, stage) for stage in (chosen.stages if chosen else [])]
        return {"pipelines": pipelines, "pipeline": chosen, "columns": columns, "flash": flash,
                "kinds": {k: cls for k, cls in load_kinds().items()}}

    return render(request, "robots/automation.html", await in_tx(request, load))


def _column(request: Request, session: Session, stage: Stage) -> dict[str, Any]:
    robots = config.stage_robots(session, stage.id)
    panels = [Markup(panel(request, session, stage)) for panel in request.app.state.runtime.column_panels]
    what = describe.describe(session, robots, dict(load_kinds().items()))
    cards = [{"robot": r, "delay": forms.delay_label(r.delay), "kind": _title(r.kind), "what": what[r.id],
              "loop": " ".join(cycle_warnings(session, stage.pipeline_id, r))} for r in robots]
    return {"stage": stage, "robots": cards, "panels": panels}


def _title(kind: str) -> str:
    registry = load_kinds()
    return registry.get(kind).title if kind in registry else kind


@access("admin")
async def new_robot(request: Request) -> Response:
    """GET /automation/stages/{id}/robots/new[?kind=] — the categorised picker, then the kind's form."""
    stage_id = request.path_params["stage_id"]
    kind = request.query_params.get("kind")

    def load(session: Session) -> tuple[str, dict[str, Any]]:
        _admin(request, session)
        stage = get_stage(session, stage_id)
        registry = load_kinds()
        if kind in registry:
            cls = registry.get(kind)
            values = {"kind": kind, "name": cls.title, "key": "", "after_previous": False, "active": True}
            return "robots/form.html", form_context(session, owner_view(session, stage.id, None), cls, values, {},
                                                    None)
        groups: dict[str, list[type[RobotKind]]] = {}
        for _key, cls in registry.items():
            groups.setdefault(CATEGORIES.get(cls.category, cls.category.title()), []).append(cls)
        descriptions = {cls.kind: describe.kind_description(cls) for _, cls in registry.items()}
        return "robots/picker.html", {"stage": stage, "groups": groups, "descriptions": descriptions}

    template, ctx = await in_tx(request, load)
    return render(request, template, ctx)


@access("admin")
async def edit_robot(request: Request) -> Response:
    """GET /automation/robots/{id} — the robot's form."""
    robot_id = request.path_params["robot_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        robot = config.get_robot(session, robot_id)
        values = {name: getattr(robot, name) for name in config.EDITABLE}
        return form_context(session, owner_view(session, robot.stage_id, robot.automation_id),
                            config.kind_class(robot.kind), {**values, "kind": robot.kind}, {}, robot)

    return render(request, "robots/form.html", await in_tx(request, load))


def owner_view(session: Session, stage_id: int | None, automation_id: int | None) -> dict[str, Any]:
    """The robot form's owner: name, where "back" goes, where a new robot is posted, its robots and target stages."""
    if stage_id is not None:
        stage = get_stage(session, stage_id)
        return {"name": stage.name, "back": f"/automation?pipeline_id={stage.pipeline_id}#stage-{stage.id}",
                "create": f"/automation/stages/{stage.id}/robots", "stage": stage,
                "owner": config.Owner(stage_id=stage.id, pipeline_id=stage.pipeline_id),
                "stages": [s for s in session.get(Pipeline, stage.pipeline_id).stages if s.id != stage.id]}
    automation = session.get(Automation, automation_id)
    if automation is None:
        raise NotFoundError(_("automation %(automation_id)s not found", automation_id=automation_id))
    stages = select(Stage).where(Stage.archived.is_(False)).order_by(Stage.pipeline_id, Stage.position)
    if automation.pipeline_id is not None:
        stages = stages.where(Stage.pipeline_id == automation.pipeline_id)
    return {"name": automation.name, "back": f"/automations/{automation.id}",
            "create": f"/automations/{automation.id}/actions", "stage": None,
            "owner": config.Owner(automation_id=automation.id, pipeline_id=automation.pipeline_id),
            "stages": list(session.scalars(stages))}


def form_context(session: Session, owner: dict[str, Any], cls: type[RobotKind], values: dict[str, Any],
                 errors: dict[str, str], robot: Robot | None) -> dict[str, Any]:
    """Everything robots/form.html needs to show a kind's generated form (owner: see owner_view)."""
    siblings = owner["owner"].robots(session)
    above = siblings if robot is None else [r for r in siblings if r.position < robot.position]
    settings = values.get("settings") or {}
    widgets = forms.widgets(cls, settings)
    for widget in widgets:
        widget.error = "; ".join(m if k == f"settings.{widget.name}" else f"{k.split('.', 2)[2]}: {m}"
                                 for k, m in errors.items()
                                 if k == f"settings.{widget.name}" or k.startswith(f"settings.{widget.name}."))
    people = list(session.scalars(select(User).where(User.role != "system", User.active.is_(True))
                                  .order_by(User.name)))
    for widget in widgets:
        if widget.kind == "users":
            # Chosen users first, in their stored (rotation) order, so saving the form keeps that order.
            chosen = [i for i in widget.value or [] if isinstance(i, int)]
            by_id = {p.id: p for p in people}
            widget.options = [by_id[i] for i in chosen if i in by_id] + [p for p in people if p.id not in chosen]
        elif widget.kind == "email_template":
            widget.options = list_templates(session)
    cond = condition_form.editor(values.get("condition"))
    stages = owner["stages"]
    return {
        "owner": owner, "stage": owner["stage"], "kind": cls, "robot": robot, "values": values, "errors": errors,
        "widgets": widgets,
        "people": people, "departments": list(session.scalars(select(Department).order_by(Department.name))),
        "stages": stages, "delay": forms.delay_parts(values.get("delay")), "delay_units": list(forms.DELAY_UNITS),
        "company_zone": company.settings(session).time_zone, "zone_names": sorted(company.zone_names()),
        "cond_mode": cond["mode"], "cond_rows": cond["rows"] + [{}] * CONDITION_ROWS, "ops": OPS,
        "cond_json": cond["json"],
        "help": references.help_for(references.reachable(above, True)),
        "field_names": [n for n, _ in KNOWN_PLACEHOLDERS if "<" not in n],
        "other_errors": {k: v for k, v in errors.items() if not k.startswith("settings.")
                         or k.split(".")[1] not in {w.name for w in widgets}},
    }


def parse_robot_form(cls: type[RobotKind], form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """A robot's fields from the posted form, plus errors found while parsing."""
    settings, errors = forms.parse_settings(cls, form)
    key = str(form.get("key", "")).strip()
    data = {
        "name": str(form.get("name", "")).strip(), "key": key or None, "settings": settings,
        "delay": forms.parse_delay(form), "condition": condition_form.parse(form, errors),
        "after_previous": "after_previous" in form, "active": "active" in form,
    }
    return data, errors


@access("admin")
async def save_robot(request: Request) -> Response:
    """POST /automation/stages/{id}/robots (new) or /automation/robots/{id} (edit): validate and save."""
    stage_id = request.path_params.get("stage_id")
    robot_id = request.path_params.get("robot_id")
    form = await request.form()

    def save(session: Session) -> tuple[str, list[str], dict[str, str] | None]:
        admin = _admin(request, session)
        robot = config.get_robot(session, robot_id) if robot_id else None
        cls = config.kind_class(robot.kind if robot else form.get("kind"))
        data, errors = parse_robot_form(cls, form)
        if errors:
            raise ValidationError(_("invalid robot"), errors)
        if robot is None:
            result = config.create_robot(session, stage_id, {**data, "kind": cls.kind}, saved_by=admin.id)
        else:
            result = config.update_robot(session, robot.id, data, saved_by=admin.id)
        shown = ({"name": result.robot.name, "secret": result.robot.secret}
                 if robot is None and result.robot.secret else None)
        return back_url(session, result.robot), result.warnings, shown

    try:
        back, warnings, created = await in_tx(request, save)
    except ValidationError as exc:
        return await form_errors(request, form, exc)
    if created is not None:
        # A new webhook robot's signing secret: shown once, on this page only (never stored in the session).
        return render(request, "robots/secret.html", {"robot": created, "secret": created["secret"], "back": back},
                      headers={"Cache-Control": "no-store"})
    _flash(request, " ".join([_("Robot saved."), *warnings]), "warning" if warnings else "ok")
    return RedirectResponse(back, status_code=303)


def back_url(session: Session, robot: Robot) -> str:
    """The page a robot's card is on: its stage's column, or its automation's editor."""
    if robot.automation_id is not None:
        return f"/automations/{robot.automation_id}"
    stage = get_stage(session, robot.stage_id)
    return f"/automation?pipeline_id={stage.pipeline_id}#stage-{stage.id}"


async def form_errors(request: Request, form: FormData, exc: ValidationError) -> Response:
    """The robot form again, with the posted values and the errors (422)."""
    stage_id = request.path_params.get("stage_id")
    automation_id = request.path_params.get("automation_id")
    robot_id = request.path_params.get("robot_id")

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        robot = config.get_robot(session, robot_id) if robot_id else None
        cls = config.kind_class(robot.kind if robot else form.get("kind"))
        data, _errors = parse_robot_form(cls, form)
        data["key"] = str(form.get("key", ""))
        owner = (owner_view(session, robot.stage_id, robot.automation_id) if robot
                 else owner_view(session, stage_id, automation_id))
        ctx = form_context(session, owner, cls, {**data, "kind": cls.kind}, exc.fields, robot)
        ctx["message"] = exc.message
        return ctx

    return render(request, "robots/form.html", await in_tx(request, load), status_code=422)


@access("admin")
async def robot_action(request: Request) -> Response:
    """POST /automation/robots/{id}/{toggle|delete|up|down} — the no-JS buttons of a robot card."""
    robot_id = request.path_params["robot_id"]
    action = request.path_params["action"]

    def act(session: Session) -> str:
        _admin(request, session)
        robot = config.get_robot(session, robot_id)
        back = back_url(session, robot).split("#")[0]
        if action == "toggle":
            config.update_robot(session, robot.id, {"active": not robot.active})
        elif action == "delete":
            config.delete_robot(session, robot.id)
        elif action in ("up", "down"):
            config.move_robot(session, robot.id, -1 if action == "up" else 1)
        else:
            raise NotFoundError(_("unknown action %(action)s", action=action))
        return back

    try:
        back = await in_tx(request, act)
    except ValidationError as exc:
        back = await in_tx(request, lambda s: back_url(s, config.get_robot(s, robot_id)).split("#")[0])
        _flash(request, exc.message, "error")
    return RedirectResponse(back, status_code=303)


@access("admin")
async def order_robots(request: Request) -> Response:
    """POST /automation/stages/{id}/order — drag-and-drop order (ids=…&ids=…); JSON answer for the script."""
    stage_id = request.path_params["stage_id"]
    form = await request.form()
    raw = [str(v) for v in form.getlist("ids")]
    if not all(v.isdigit() for v in raw):
        return JSONResponse({"ok": False, "message": _("ids must be robot ids")}, status_code=400)

    def act(session: Session) -> list[int]:
        _admin(request, session)
        return [r.id for r in config.reorder_robots(session, stage_id, [int(v) for v in raw])]

    try:
        ids = await in_tx(request, act)
    except KanbanError as exc:
        return JSONResponse({"ok": False, "message": exc.message}, status_code=exc.status)
    return JSONResponse({"ok": True, "ids": ids})


@access("admin")
async def run_existing(request: Request) -> Response:
    """GET shows how many deals sit in the robot's stage; POST schedules the robot for them."""
    from robots.scheduling import count_existing, schedule_existing

    robot_id = request.path_params["robot_id"]
    confirm = request.method == "POST"

    def act(session: Session) -> dict[str, Any]:
        _admin(request, session)
        robot = config.get_robot(session, robot_id)
        stage = get_stage(session, robot.stage_id)
        count = schedule_existing(session, robot.id) if confirm else count_existing(session, robot.id)
        return {"robot": robot, "stage": stage, "count": count}

    ctx = await in_tx(request, act)
    if not confirm:
        return render(request, "robots/run_existing.html", ctx)
    _flash(request, f"“{ctx['robot'].name}” scheduled for {ctx['count']} deals already in “{ctx['stage'].name}”.")
    return RedirectResponse(f"/automation?pipeline_id={ctx['stage'].pipeline_id}", status_code=303)


routes = [
    Route("/automation", automation_page, methods=["GET"]),
    Route("/automation/stages/{stage_id:int}/robots/new", new_robot, methods=["GET"]),
    Route("/automation/stages/{stage_id:int}/robots", save_robot, methods=["POST"]),
    Route("/automation/stages/{stage_id:int}/order", order_robots, methods=["POST"]),
    Route("/automation/robots/{robot_id:int}", edit_robot, methods=["GET"]),
    Route("/automation/robots/{robot_id:int}", save_robot, methods=["POST"]),
    Route("/automation/robots/{robot_id:int}/run-existing", run_existing, methods=["GET", "POST"]),
    Route("/automation/robots/{robot_id:int}/{action:str}", robot_action, methods=["POST"]),
    *runlog.routes,
    Mount("/robots-static", app=StaticFiles(directory=str(STATIC)), name="robots_static"),
]


def install(runtime: Any) -> None:
    """Register the automation pages, the run-log panel on the deal page, and the nav link."""
    runtime.routes.extend(routes)
    runtime.deal_panels.append(runlog.panel)
    runtime.nav_links.append((N_("Automation"), "/automation", True))
