"""Admin HTML for triggers (the automation view's column panel and forms) and the deal page's invoices panel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.errors import ConflictError, NotFoundError, ValidationError
from kanban.i18n import N_, _
from kanban.models import Invoice, Stage, User
from kanban.services.pipelines import get_stage
from kanban.web import condition_form
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render, templates
from triggers import config
from triggers.cycles import loop_warnings
from triggers.inbound import db_id
from triggers.models import InboundEvent, Trigger
from triggers.recording import mark_paid
from triggers.registry import TriggerKind, registry

CONDITION_ROWS = 3


def _admin(request: Request, session: Session) -> User:
    return require_admin(web_user(request, session))


def _stage(session: Session, stage_id: int) -> Stage:
    if db_id(stage_id) is None:
        raise NotFoundError(_("stage %(stage_id)s not found", stage_id=stage_id))
    return get_stage(session, stage_id)


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = (message, kind)


def column_panel(request: Request, session: Session, stage: Stage) -> str:
    """The triggers that move deals into this stage, with their actions (automation view)."""
    rows = [(t, registry.get(t.kind).title if t.kind in registry else t.kind)
            for t in config.list_triggers(session, stage.id)]
    public_url = request.app.state.runtime.settings.public_url
    hook_urls = {t.id: config.hook_url(public_url, t.id) for t, _title in rows if _has_secret(t.kind)}
    return templates.get_template("triggers/column_panel.html").render(request=request, stage=stage, rows=rows,
                                                                       hook_urls=hook_urls,
                                                                       cond_words=condition_form.words)


def deal_panel(request: Request, session: Session, deal: Any) -> str:
    """Invoices of the deal (pay link, mark paid) and the latest inbound events with their outcome."""
    invoices = list(session.scalars(select(Invoice).where(Invoice.deal_id == deal.id).order_by(Invoice.id)))
    events = list(session.scalars(select(InboundEvent).where(InboundEvent.deal_id == deal.id)
                                  .order_by(InboundEvent.id.desc()).limit(10)))
    user = request.scope.get("user")
    return templates.get_template("triggers/deal_panel.html").render(
        request=request, deal=deal, invoices=invoices, events=events, is_admin=bool(user and user.is_admin))


# The settings of the trigger kinds as the form labels them.
SETTING_LABELS = {"include_machine_opens": N_("include machine opens"), "field": N_("field"), "value": N_("value"),
                  "url": N_("URL")}


def _widgets(kind: type[TriggerKind], settings: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, info in kind.Settings.model_fields.items():
        boolean = info.annotation is bool or info.annotation == "bool"
        value = settings.get(name, info.default if info.default is not None else "")
        out.append({"name": name, "boolean": boolean, "value": value, "required": info.is_required(),
                    "help": _(info.description) if info.description else "",
                    "label": _(SETTING_LABELS.get(name, name.replace("_", " ")))})
    return out


def _form_ctx(session: Session, stage: Stage, kind: type[TriggerKind], values: dict[str, Any],
              errors: dict[str, str], trigger: Trigger | None, public_url: str = "") -> dict[str, Any]:
    people = list(session.scalars(select(User).where(User.role != "system", User.active.is_(True))
                                  .order_by(User.name)))
    cond = condition_form.editor(values.get("condition"))
    rows = cond["rows"] + [{"field": "", "op": "=", "value": ""}] * CONDITION_ROWS
    return {"stage": stage, "kind": kind, "values": values, "errors": errors, "trigger": trigger,
            "widgets": _widgets(kind, values.get("settings") or {}), "people": people, "mode": cond["mode"],
            "rows": rows, "cond_json": cond["json"], "ops": condition_form.OP_LABELS,
            # An inbound webhook's URL is shown on its form (the secret only right after create or rotate).
            "hook_url": config.hook_url(public_url, trigger.id) if trigger and _has_secret(trigger.kind) else None}


def _has_secret(kind: str) -> bool:
    return kind in registry and registry.get(kind).has_secret


def _parse_form(form: FormData, kind: type[TriggerKind]) -> tuple[dict[str, Any], dict[str, str]]:
    """The trigger's fields from the posted form, plus errors found while parsing (a condition's bad JSON)."""
    settings: dict[str, Any] = {}
    for name, info in kind.Settings.model_fields.items():
        if info.annotation is bool or info.annotation == "bool":
            settings[name] = form.get(f"settings.{name}") == "on"
        elif str(form.get(f"settings.{name}", "")).strip():
            settings[name] = str(form.get(f"settings.{name}")).strip()
    errors: dict[str, str] = {}
    move_as = str(form.get("move_as_id", "")).strip()
    data = {"name": str(form.get("name", "")), "settings": settings,
            "condition": condition_form.parse(form, errors), "allow_backward": form.get("allow_backward") == "on",
            "active": form.get("active") == "on",
            "move_as_id": int(move_as) if move_as.isdigit() and len(move_as) < 12 else None}
    return data, errors


@access("admin")
async def new_trigger(request: Request) -> Response:
    """GET /automation/stages/{id}/triggers/new[?kind=] — pick a kind, then its form."""
    stage_id = request.path_params["stage_id"]
    kind = request.query_params.get("kind")

    def load(session: Session) -> tuple[str, dict[str, Any]]:
        _admin(request, session)
        stage = _stage(session, stage_id)
        if kind in registry:
            cls = registry.get(kind)
            values = {"name": cls.title, "settings": {}, "active": True, "allow_backward": False}
            return "triggers/form.html", _form_ctx(session, stage, cls, values, {}, None)
        return "triggers/picker.html", {"stage": stage, "kinds": registry.items()}

    template, ctx = await in_tx(request, load)
    return render(request, template, ctx)


@access("admin")
async def create_trigger(request: Request) -> Response:
    """POST /automation/stages/{id}/triggers — save; an inbound_webhook shows its secret once."""
    stage_id = request.path_params["stage_id"]
    form = await request.form()
    kind_name = str(form.get("kind", ""))

    def save(session: Session) -> tuple[str, dict[str, Any], int]:
        _admin(request, session)
        stage = _stage(session, stage_id)
        cls = config.kind_of(kind_name).__class__
        data, problems = _parse_form(form, cls)
        try:
            if problems:
                raise ValidationError(_("invalid condition"), problems)
            with session.begin_nested():
                trigger, secret = config.create_trigger(session, stage.id, {"kind": kind_name, **data})
        except ValidationError as exc:
            return "triggers/form.html", _form_ctx(session, stage, cls, data, exc.fields, None), 422
        return _saved(request, session, trigger, secret)

    return await _respond(request, save)


def _saved(request: Request, session: Session, trigger: Trigger, secret: str | None) -> tuple[str, dict[str, Any], int]:
    stage = get_stage(session, trigger.stage_id)
    if secret is None:
        return "", {"redirect": f"/automation?pipeline_id={stage.pipeline_id}#stage-{stage.id}",
                    "warnings": loop_warnings(session, trigger)}, 303
    url = config.hook_url(request.app.state.runtime.settings.public_url, trigger.id)
    return "triggers/secret.html", {"trigger": trigger, "stage": stage, "secret": secret, "url": url}, 200


async def _respond(request: Request, work: Any) -> Response:
    template, ctx, status = await in_tx(request, work)
    if status == 303:
        warnings = ctx.get("warnings") or []
        _flash(request, " ".join([_("Trigger saved."), *warnings]), "warning" if warnings else "ok")
        return RedirectResponse(ctx["redirect"], status_code=303)
    return render(request, template, ctx, status_code=status, headers={"Cache-Control": "no-store"})


@access("admin")
async def edit_trigger(request: Request) -> Response:
    """GET /automation/triggers/{id} — the trigger's form."""
    trigger_id = request.path_params["trigger_id"]

    def load(session: Session) -> dict[str, Any]:
        _admin(request, session)
        trigger = config.get_trigger(session, trigger_id)
        values = {name: getattr(trigger, name) for name in config.EDITABLE}
        kind = config.kind_of(trigger.kind).__class__
        return _form_ctx(session, get_stage(session, trigger.stage_id), kind, values, {}, trigger,
                         request.app.state.runtime.settings.public_url)

    return render(request, "triggers/form.html", await in_tx(request, load))


@access("admin")
async def update_trigger(request: Request) -> Response:
    """POST /automation/triggers/{id} — save changes (field errors re-show the form)."""
    trigger_id = request.path_params["trigger_id"]
    form = await request.form()

    def save(session: Session) -> tuple[str, dict[str, Any], int]:
        _admin(request, session)
        trigger = config.get_trigger(session, trigger_id)
        cls = config.kind_of(trigger.kind).__class__
        data, problems = _parse_form(form, cls)
        stage = get_stage(session, trigger.stage_id)
        try:
            if problems:
                raise ValidationError(_("invalid condition"), problems)
            with session.begin_nested():
                config.update_trigger(session, trigger.id, data)
        except ValidationError as exc:
            return "triggers/form.html", _form_ctx(session, stage, cls, data, exc.fields, trigger,
                                                   request.app.state.runtime.settings.public_url), 422
        return _saved(request, session, trigger, None)

    return await _respond(request, save)


@access("admin")
async def trigger_action(request: Request) -> Response:
    """POST /automation/triggers/{id}/{toggle|delete|rotate-secret}."""
    trigger_id, action = request.path_params["trigger_id"], request.path_params["action"]

    def act(session: Session) -> tuple[str, dict[str, Any], int]:
        _admin(request, session)
        trigger = config.get_trigger(session, trigger_id)
        if action == "toggle":
            config.update_trigger(session, trigger.id, {"active": not trigger.active})
        elif action == "delete":
            stage = get_stage(session, trigger.stage_id)
            config.delete_trigger(session, trigger.id)
            return "", {"redirect": f"/automation?pipeline_id={stage.pipeline_id}#stage-{stage.id}"}, 303
        elif action in ("up", "down"):
            config.move_trigger(session, trigger.id, -1 if action == "up" else 1)
        elif action == "rotate-secret":
            return _saved(request, session, trigger, config.rotate_secret(session, trigger.id))
        else:
            raise ValidationError(_("unknown action"), {"action": _("toggle, up, down, delete or rotate-secret")})
        return _saved(request, session, trigger, None)

    return await _respond(request, act)


@access("admin")
async def mark_paid_form(request: Request) -> Response:
    """POST /deals/{deal_id}/invoices/{invoice_id}/mark-paid — admin button on the deal page."""
    deal_id, invoice_id = request.path_params["deal_id"], request.path_params["invoice_id"]

    def act(session: Session) -> None:
        user = _admin(request, session)
        invoice = session.get(Invoice, invoice_id) if db_id(invoice_id) else None
        if invoice is None or invoice.deal_id != deal_id:
            raise ValidationError(_("unknown invoice"), {"invoice_id": _("not an invoice of this deal")})
        mark_paid(session, invoice_id, user.id)

    try:
        await in_tx(request, act)
    except (ValidationError, ConflictError) as exc:
        _flash(request, exc.message, "error")
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


routes = [
    Route("/automation/stages/{stage_id:int}/triggers/new", new_trigger, methods=["GET"]),
    Route("/automation/stages/{stage_id:int}/triggers", create_trigger, methods=["POST"]),
    Route("/automation/triggers/{trigger_id:int}", edit_trigger, methods=["GET"]),
    Route("/automation/triggers/{trigger_id:int}", update_trigger, methods=["POST"]),
    Route("/automation/triggers/{trigger_id:int}/{action:str}", trigger_action, methods=["POST"]),
    Route("/deals/{deal_id:int}/invoices/{invoice_id:int}/mark-paid", mark_paid_form, methods=["POST"]),
]
