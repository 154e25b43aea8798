"""The deal page: a read view with inline edit (optimistic version, stale edits merged), stage bar, timeline."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import clock, decisions, policy, queries, timezones
from kanban.crm_models import Activity
from kanban.errors import ConflictError, PermissionDeniedError, ValidationError
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Deal, Person, Pipeline, Stage, User
from kanban.services import outcomes
from kanban.services.activities import activities_query
from kanban.services.deals import get_deal, update_deal
from kanban.web import person_picker
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import format_amount, optional_int, parse_amount, text
from kanban.web.templating import render

WHY_ITEMS = 100  # decisions on the deal page's "Why?" tab (the API pages further)
CONFLICT_MESSAGE = (N_("Someone else changed this deal while you were editing it. Nothing was saved yet: your edits "
                    "are kept in the form, and what changed meanwhile is listed below."))
FIELD_LABELS = {"title": N_("Title"), "amount": N_("Amount"), "currency": N_("Currency"),
                "responsible_id": N_("Responsible"), "person_id": N_("Person"), "tags": N_("Tags"),
                "fields": N_("Custom fields")}
# Which inline field (data-field) shows each form value, to open it for review after a conflict or an error.
FIELD_GROUPS = {"currency": "amount", "person_id": "person"}


def form_values(session: Session, deal: Deal) -> dict[str, Any]:
    """The edit form's values for a deal as stored now."""
    return {
        "title": deal.title, "amount": format_amount(deal.amount, deal.currency), "currency": deal.currency,
        "responsible_id": str(deal.responsible_id or ""), "version": str(deal.version),
        "person_id": str(deal.person_id or ""), **{name: "" for name in person_picker.NEW_FIELDS},
        "tags": ", ".join(deal.tags or []),
        "fields": [(k, "" if v is None else str(v)) for k, v in sorted((deal.fields or {}).items())],
    }


def _submitted(form: FormData) -> dict[str, Any]:
    keys, values = form.getlist("field_key"), form.getlist("field_value")
    rows = [(str(k).strip(), str(v).strip()) for k, v in zip(keys, values, strict=False)]
    values_ = {name: text(form, name) for name in (
        "title", "amount", "currency", "responsible_id", "version", "tags", "seen")}
    values_.update(person_picker.submitted(form))
    values_["fields"] = [r for r in rows if r[0] or r[1]]
    # A client posting only some fields (not the page's whole form) leaves the others as they are.
    values_["absent"] = [n for n in ("amount", "currency", "responsible_id", "tags") if n not in form]
    return values_


def seen_of(values: dict[str, Any]) -> str:
    """The values a form was rendered with, sent back on save so a stale edit can tell whose change is whose."""
    return json.dumps({k: values[k] for k in FIELD_LABELS})


def _display(key: str, value: Any) -> str:
    if key == "fields":
        return ", ".join(f"{k}: {v}" for k, v in value)
    return str(value or "")


def _shower(key: str, user_names: dict[str, str], person_label: Any) -> Any:
    if key == "responsible_id":
        return lambda v: user_names.get(str(v), "unassigned")
    if key == "person_id":
        return lambda v: person_label(v) or _("no person")
    return lambda v: _display(key, v)


def merge_stale(current: dict[str, Any], typed: dict[str, Any], people: list[User],
                labels: Any = None) -> tuple[dict, list]:
    """A stale edit: keep what the user changed, take everyone else's changes; list what changed meanwhile."""
    try:
        seen = json.loads(typed.get("seen") or "")
    except ValueError:
        seen = None
    names = {str(p.id): p.name for p in people}
    label = labels or {}
    merged, changed = dict(current), []
    for key, label in FIELD_LABELS.items():
        mine = [list(r) for r in typed[key]] if key == "fields" else typed[key]
        now = [list(r) for r in current[key]] if key == "fields" else current[key]
        known = isinstance(seen, dict)
        was = seen.get(key) if known else None
        # Without the form's first values (an old page), every typed value counts as the user's.
        mine_changed = not known or mine != was
        if mine_changed:
            merged[key] = typed[key]
        if (was != now) if known else (mine != now):
            show = _shower(key, names, label)
            changed.append({"key": key, "label": label, "seen": show(was) if known else None, "now": show(now),
                            "mine": mine_changed and mine != now, "mine_value": show(mine)})
    merged.update({k: typed.get(k, "") for k in person_picker.NEW_FIELDS})
    merged["version"] = current["version"]
    return merged, changed


def live_context(request: Request, session: Session, deal: Deal) -> dict[str, Any]:
    """Timeline and plug-in panels (the part live updates refresh)."""
    panels = [Markup(panel(request, session, deal)) for panel in request.app.state.runtime.deal_panels]
    return {"deal": deal, "timeline": queries.deal_timeline(session, deal.id), "panels": panels,
            "decisions": decisions.for_deal(session, deal.id, WHY_ITEMS)}


def deal_context(request: Request, session: Session, deal_id: int, **extra: Any) -> dict[str, Any]:
    """Everything deal.html needs; `values`/`errors`/`message` override the defaults."""
    deal = policy.require(session, web_user(request, session), "read", get_deal(session, deal_id))
    ctx = live_context(request, session, deal)
    responsible = session.get(User, deal.responsible_id) if deal.responsible_id else None
    ctx.update({
        "stage": session.get(Stage, deal.stage_id), "pipeline": session.get(Pipeline, deal.pipeline_id),
        "stages": queries.stages_of(session, deal.pipeline_id), "people": queries.people(session),
        "responsible": responsible, "contact": session.get(Person, deal.person_id) if deal.person_id else None,
        "person_q": "", "person_found": [], **crm_context(session, deal),
        "values": form_values(session, deal), "errors": {}, "message": None, "message_kind": "info",
        "editing": set(), "changed": [], "days_in_stage": (clock.now() - deal.stage_entered_at).days,
    })
    # `seen` is what the stored deal looked like when the form was drawn (a 422 keeps the one first sent).
    ctx["seen"] = seen_of(ctx["values"])
    ctx.update(extra)
    ctx["person_label"] = person_picker.person_label(session, ctx["values"]["person_id"])
    if ctx["person_q"]:
        ctx["person_found"] = person_picker.search(session, ctx["person_q"])
    return ctx


def crm_context(session: Session, deal: Deal) -> dict[str, Any]:
    """The composer, the deal's activities, names for mentions, and the lost reasons."""
    people = queries.people(session)
    pipeline = session.get(Pipeline, deal.pipeline_id)
    return {
        "composer": {}, "composer_errors": {}, "composer_tab": "note",
        "deal_activities": list(session.scalars(activities_query(deal_id=deal.id).order_by(
            Activity.done, Activity.due_date, Activity.due_time, Activity.id).limit(50))),
        "mention_names": {p.email: p.name for p in people}, "users": {p.id: p.name for p in people},
        "lost_reasons": outcomes.lost_reasons(session), "today_iso": timezones.today().isoformat(),
        "lost_reason_required": bool(pipeline and pipeline.lost_reason_required),
    }


def editing_of(keys: Any) -> set[str]:
    """The inline fields to open for these form keys (error fields, changed fields, ?edit=)."""
    out = set()
    for key in map(str, keys):
        out.add("person" if key.startswith(("contact", "new_")) else FIELD_GROUPS.get(key, key))
    return out


@access("deal:read")
async def deal_page(request: Request) -> Response:
    """GET /deals/{id} — the deal page."""
    deal_id = request.path_params["deal_id"]
    flash = request.session.pop("flash", None)
    edit = text(request.query_params, "edit")[:40]
    person_q = text(request.query_params, "person_q")[:200]  # the person field's search without JS

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        ctx = deal_context(request, session, deal_id, editing={edit} if edit else set(), person_q=person_q)
        if flash:
            ctx["message"], ctx["message_kind"] = flash
        return ctx

    return render(request, "deal.html", await in_tx(request, load))


@access("deal:read")
async def deal_live(request: Request) -> Response:
    """GET /deals/{id}/live — header, stage bar, details, timeline and panels, re-fetched on live notices
    (the page keeps its details form while the user is editing it)."""
    deal_id = request.path_params["deal_id"]

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        policy.require(session, user, "read", get_deal(session, deal_id))
        return deal_context(request, session, deal_id)

    return render(request, "partials/deal_refresh.html", await in_tx(request, load))


def _changes(session: Session, deal: Deal, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The update_deal changes a submitted form asks for (parse errors go to `errors`)."""
    if not values["title"]:
        errors["title"] = _("title is required")
    changes: dict[str, Any] = {
        "title": values["title"],
        "amount": parse_amount(values["amount"], errors, currency=(values["currency"] or deal.currency).upper()),
        "currency": values["currency"].upper(),
        "responsible_id": optional_int(values, "responsible_id", errors),
        "tags": [t for t in (p.strip() for p in values["tags"].split(",")) if t],
    }
    for name in values.get("absent", ()):
        changes.pop(name, None)
    old = dict(deal.fields or {})
    new: dict[str, Any] = {}
    for key, value in values["fields"]:
        if not key:
            errors["fields"] = _("every custom field needs a name")
        elif len(key) > 100:
            errors["fields"] = _("custom field names are at most 100 characters")
        elif key in new:
            errors["fields"] = _("the field “%(key)s” appears twice", key=key)
        elif value:
            # Keep a stored number or flag as it is when the text shown for it was not edited.
            new[key] = old[key] if key in old and str(old[key]) == value else value
    changes["fields"] = {**{k: None for k in old if k not in new}, **new}
    return changes


def _invalid(session: Session, request: Request, deal_id: int, values: dict[str, Any],
             fields: dict[str, str]) -> dict[str, Any]:
    """The page again with what the user typed and the marked fields open."""
    web_user(request, session)
    return deal_context(request, session, deal_id, values=values, errors=fields,
                        **({"seen": values["seen"]} if values["seen"] else {}),
                        editing=editing_of(fields) or {"all"},
                        message=_("The deal was not saved: please correct the marked fields."), message_kind="error")


def _stale(session: Session, request: Request, deal_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The page after a conflicting save: the user's changes kept, the others' taken, what changed listed."""
    web_user(request, session)
    current = form_values(session, get_deal(session, deal_id))
    merged, changed = merge_stale(current, values, queries.people(session),
                                  lambda v: person_picker.person_label(session, v))
    mine = {k for k in FIELD_LABELS if merged[k] != current[k]}
    return deal_context(request, session, deal_id, message=CONFLICT_MESSAGE, message_kind="conflict",
                        values=merged, changed=changed,
                        editing=editing_of(mine | {c["key"] for c in changed}))


def overlaps(session: Session, deal: Deal, values: dict[str, Any]) -> bool:
    """Whether a field of this form was changed by someone else since the form was drawn."""
    return bool(merge_stale(form_values(session, deal), values, [], lambda v: "")[1])


@access("deal:edit")
async def edit_deal(request: Request) -> Response:
    """POST /deals/{id} — save the edit form (field errors 422; 409 when someone changed the same fields)."""
    deal_id = request.path_params["deal_id"]
    values = _submitted(await request.form())

    def save(session: Session) -> None:
        user = web_user(request, session)
        deal = policy.require(session, user, "edit", get_deal(session, deal_id, for_update=True))
        errors: dict[str, str] = {}
        version = optional_int(values, "version", errors)
        if version is not None and version != deal.version and not overlaps(session, deal, values):
            version = deal.version  # only things outside this form changed meanwhile (stage, status): no conflict
        changes = _changes(session, deal, values, errors)
        changes.update(person_picker.changes(session, deal, values, Actor.user(user.id), errors))
        if errors:
            raise ValidationError(_("invalid deal"), errors)
        update_deal(session, deal_id, changes, actor=Actor.user(user.id), expected_version=version)

    try:
        await in_tx(request, save)
    except ValidationError as exc:
        return render(request, "deal.html", await in_tx(request, _invalid, request, deal_id, values, exc.fields),
                      status_code=422)
    except PermissionDeniedError as exc:
        message = _("The deal was not saved: %(message)s.", message=exc.message)

        def denied(session: Session) -> dict[str, Any]:
            web_user(request, session)
            return deal_context(request, session, deal_id, message=message, message_kind="error")

        return render(request, "deal.html", await in_tx(request, denied), status_code=403)
    except ConflictError:
        return render(request, "deal.html", await in_tx(request, _stale, request, deal_id, values), status_code=409)
    request.session["flash"] = (_("Saved."), "ok")
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


routes = [
    Route("/deals/{deal_id:int}", deal_page, methods=["GET"]),
    Route("/deals/{deal_id:int}", edit_deal, methods=["POST"]),
    Route("/deals/{deal_id:int}/live", deal_live, methods=["GET"]),
]
