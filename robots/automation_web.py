"""Automations pages (Pipedrive style, admin only): the list, the editor (event → conditions → ordered actions,
actions edited with the robot forms) and each automation's execution history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import N_, _
from kanban.models import Pipeline, User
from kanban.web import condition_form
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render
from robots import automations, config, web
from robots.models import Automation
from robots.registry import load_kinds
from robots.runlog import ICONS
from robots.values import KNOWN_PLACEHOLDERS

OP_WORDS = dict(web.OPS)


def condition_words(condition: dict[str, Any] | None) -> str:
    """A condition in words: “deal.amount greater than 1000 and event.to equals 3”."""
    if not condition:
        return "always"
    mode = "any" if "any" in condition else "all"
    parts = []
    for item in condition.get(mode) or []:
        if isinstance(item, dict) and "field" in item:
            value = item.get("value")
            shown = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
            parts.append(f"{item['field']} {OP_WORDS.get(item.get('op'), item.get('op'))} {shown}".strip())
        else:
            parts.append("(a nested group)")
    return (" and " if mode == "all" else " or ").join(parts)


def _admin(request: Request, session: Session) -> User:
    return require_admin(web_user(request, session))


def _kind_title(kind: str) -> str:
    registry = load_kinds()
    return registry.get(kind).title if kind in registry else kind


@access("admin")
async def list_page(request: Request) -> Response:
    """GET /automations — every automation with its event, conditions and actions in words, last run, failures."""
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        stats = automations.stats(session)
        rows = []
        for automation in automations.list_automations(session):
            actions = automations.actions(session, automation.id)
            rows.append({"a": automation, "condition": condition_words(automation.condition),
                         "actions": [_kind_title(r.kind) for r in actions],
                         **stats.get(automation.id, {"last_run": None, "failures": 0})})
        return {"rows": rows, "flash": flash}

    return render(request, "robots/automations.html", await in_tx(request, load))


def _form_context(session: Session, automation: Automation | None, values: dict[str, Any],
                  errors: dict[str, str]) -> dict[str, Any]:
    cond = condition_form.editor(values.get("condition"))
    people = list(session.scalars(select(User).where(User.role != "system").order_by(User.name)))
    ctx = {"automation": automation, "values": values, "errors": errors, "events": automations.EVENTS,
           "pipelines": list(session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id))),
           "people": people, "ops": web.OPS, "cond_mode": cond["mode"], "cond_json": cond["json"],
           "cond_rows": cond["rows"] + [{}] * web.CONDITION_ROWS,
           "field_names": [n for n, _ in KNOWN_PLACEHOLDERS if "<" not in n and not n.startswith("robots")],
           "kinds": [cls for _, cls in load_kinds().items()], "actions": [], "icons": ICONS}
    if automation is not None:
        ctx["actions"] = [{"robot": r, "kind": _kind_title(r.kind), "condition": condition_words(r.condition)}
                          for r in automations.actions(session, automation.id)]
    return ctx


def _parse(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    pipeline = str(form.get("pipeline_id", "")).strip()
    users = [int(v) for v in form.getlist("triggered_by") if str(v).isdigit()]
    triggered_by = {"user_ids": users, "automatic": "triggered_automatic" in form} if users else None
    data = {
        "name": str(form.get("name", "")).strip(), "description": str(form.get("description", "")).strip(),
        "event": str(form.get("event", "")), "pipeline_id": int(pipeline) if pipeline.isdigit() else None,
        "condition": condition_form.parse(form, errors),
        "fields": [f.strip() for f in str(form.get("fields", "")).split(",") if f.strip()],
        "triggered_by": triggered_by, "active": "active" in form,
    }
    return data, errors


@access("admin")
async def editor(request: Request) -> Response:
    """GET /automations/new or /automations/{id} — the editor."""
    automation_id = request.path_params.get("automation_id")
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        if automation_id is None:
            values = {"name": "", "description": "", "event": "deal.created", "active": True}
            return _form_context(session, None, values, {})
        automation = automations.get_automation(session, automation_id)
        return {**_form_context(session, automation, automations.automation_view(automation), {}), "flash": flash}

    return render(request, "robots/automation_edit.html", await in_tx(request, load))


@access("admin")
async def save(request: Request) -> Response:
    """POST /automations (new) or /automations/{id} — validate and save the event and conditions."""
    automation_id = request.path_params.get("automation_id")
    form = await request.form()
    data, errors = _parse(form)

    def act(session: Session) -> int:
        user = _admin(request, session)
        if errors:
            raise ValidationError(_("invalid automation"), errors)
        if automation_id is None:
            return automations.create_automation(session, data, owner_id=user.id).id
        return automations.update_automation(session, automation_id, data).id

    try:
        saved = await in_tx(request, act)
    except ValidationError as exc:
        fields, message = exc.fields, exc.message

        def load(session: Session) -> dict[str, Any]:
            automation = automations.get_automation(session, automation_id) if automation_id else None
            return {**_form_context(session, automation, data, fields), "message": message}

        return render(request, "robots/automation_edit.html", await in_tx(request, load), status_code=422)
    request.session["flash"] = (_("Automation saved."), "ok")
    return RedirectResponse(f"/automations/{saved}", status_code=303)


@access("admin")
async def action_form(request: Request) -> Response:
    """GET /automations/{id}/actions/new?kind= — the robot form of a kind, for a new action."""
    automation_id = request.path_params["automation_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        cls = config.kind_class(request.query_params.get("kind"))
        values = {"kind": cls.kind, "name": cls.title, "key": "", "after_previous": True, "active": True}
        return web.form_context(session, web.owner_view(session, None, automation_id), cls, values, {}, None)

    return render(request, "robots/form.html", await in_tx(request, load))


@access("admin")
async def save_action(request: Request) -> Response:
    """POST /automations/{id}/actions — add an action from the robot form."""
    automation_id = request.path_params["automation_id"]
    form = await request.form()

    def act(session: Session) -> None:
        _admin(request, session)
        cls = config.kind_class(form.get("kind"))
        data, errors = web.parse_robot_form(cls, form)
        if errors:
            raise ValidationError(_("invalid robot"), errors)
        automations.add_action(session, automation_id, {**data, "kind": cls.kind})

    try:
        await in_tx(request, act)
    except ValidationError as exc:
        return await web.form_errors(request, form, exc)
    request.session["flash"] = (_("Action added."), "ok")
    return RedirectResponse(f"/automations/{automation_id}", status_code=303)


@access("admin")
async def automation_action(request: Request) -> Response:
    """POST /automations/{id}/{toggle|delete} — turn on/off, or delete."""
    automation_id = request.path_params["automation_id"]
    action = request.path_params["action"]

    def act(session: Session) -> str:
        _admin(request, session)
        automation = automations.get_automation(session, automation_id)
        if action == "delete":
            automations.delete_automation(session, automation.id)
        elif action == "toggle":
            automations.update_automation(session, automation.id, {"active": not automation.active})
        else:
            raise NotFoundError(_("unknown action %(action)s", action=action))
        return "/automations"

    return RedirectResponse(await in_tx(request, act), status_code=303)


@access("admin")
async def history(request: Request) -> Response:
    """GET /automations/{id}/executions — each execution: event, deal, each action's status, reason, outputs."""
    automation_id = request.path_params["automation_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        automation = automations.get_automation(session, automation_id)
        items = [{"execution": e, "event": ev, "runs": runs, "status": automations.execution_status(e, runs)}
                 for e, ev, runs in automations.executions(session, automation.id, limit=100)]
        return {"automation": automation, "items": items, "icons": ICONS}

    return render(request, "robots/executions.html", await in_tx(request, load))


routes = [
    Route("/automations", list_page, methods=["GET"]),
    Route("/automations", save, methods=["POST"]),
    Route("/automations/new", editor, methods=["GET"]),
    Route("/automations/{automation_id:int}", editor, methods=["GET"]),
    Route("/automations/{automation_id:int}", save, methods=["POST"]),
    Route("/automations/{automation_id:int}/actions/new", action_form, methods=["GET"]),
    Route("/automations/{automation_id:int}/actions", save_action, methods=["POST"]),
    Route("/automations/{automation_id:int}/executions", history, methods=["GET"]),
    Route("/automations/{automation_id:int}/{action:str}", automation_action, methods=["POST"]),
]


def install(runtime: Any) -> None:
    """Register the automations pages and their nav link (admins only)."""
    runtime.routes.extend(routes)
    runtime.nav_links.append((N_("Automations"), "/automations", True))
