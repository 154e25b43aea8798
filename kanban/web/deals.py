"""The deal page: fields, edit form with validation and optimistic version, timeline, plug-in panels."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import queries
from kanban.errors import ConflictError, ValidationError
from kanban.events import Actor
from kanban.models import Deal, Organization, Person, Pipeline, Stage, User
from kanban.services.deals import get_deal, update_deal
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import format_amount, optional_int, parse_amount, text
from kanban.web.templating import render

CONFLICT_MESSAGE = ("Someone else changed this deal while you were editing it. Your changes were not saved; "
                    "the form shows the current values.")


def form_values(session: Session, deal: Deal) -> dict[str, Any]:
    """The edit form's values for a deal as stored now."""
    contact = session.get(Person, deal.person_id) if deal.person_id else None
    org = session.get(Organization, contact.organization_id) if contact and contact.organization_id else None
    return {
        "title": deal.title, "amount": format_amount(deal.amount), "currency": deal.currency,
        "responsible_id": str(deal.responsible_id or ""), "version": str(deal.version),
        "contact_name": contact.name if contact else "", "contact_email": (contact.email or "") if contact else "",
        "contact_phone": (contact.phone or "") if contact else "",
        "contact_company": org.name if org else "",
        "tags": ", ".join(deal.tags or []),
        "fields": [(k, "" if v is None else str(v)) for k, v in sorted((deal.fields or {}).items())],
    }


def _submitted(form: FormData) -> dict[str, Any]:
    keys, values = form.getlist("field_key"), form.getlist("field_value")
    rows = [(str(k).strip(), str(v).strip()) for k, v in zip(keys, values, strict=False)]
    values_ = {name: text(form, name) for name in (
        "title", "amount", "currency", "responsible_id", "version", "contact_name", "contact_email",
        "contact_phone", "contact_company", "tags")}
    values_["fields"] = [r for r in rows if r[0] or r[1]]
    return values_


def live_context(request: Request, session: Session, deal: Deal) -> dict[str, Any]:
    """Timeline and plug-in panels (the part live updates refresh)."""
    panels = [Markup(panel(request, session, deal)) for panel in request.app.state.runtime.deal_panels]
    return {"deal": deal, "timeline": queries.deal_timeline(session, deal.id), "panels": panels}


def deal_context(request: Request, session: Session, deal_id: int, **extra: Any) -> dict[str, Any]:
    """Everything deal.html needs; `values`/`errors`/`message` override the defaults."""
    deal = get_deal(session, deal_id)
    ctx = live_context(request, session, deal)
    responsible = session.get(User, deal.responsible_id) if deal.responsible_id else None
    ctx.update({
        "stage": session.get(Stage, deal.stage_id), "pipeline": session.get(Pipeline, deal.pipeline_id),
        "stages": queries.stages_of(session, deal.pipeline_id), "people": queries.people(session),
        "responsible": responsible, "contact": session.get(Person, deal.person_id) if deal.person_id else None,
        "values": form_values(session, deal), "errors": {}, "message": None, "message_kind": "info",
    })
    ctx.update(extra)
    return ctx


async def deal_page(request: Request) -> Response:
    """GET /deals/{id} — the deal page."""
    deal_id = request.path_params["deal_id"]
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        ctx = deal_context(request, session, deal_id)
        if flash:
            ctx["message"], ctx["message_kind"] = flash
        return ctx

    return render(request, "deal.html", await in_tx(request, load))


async def deal_live(request: Request) -> Response:
    """GET /deals/{id}/live — timeline and panels, re-fetched on live notices."""
    deal_id = request.path_params["deal_id"]

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return live_context(request, session, get_deal(session, deal_id))

    return render(request, "partials/deal_live.html", await in_tx(request, load))


def _changes(session: Session, deal: Deal, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The update_deal changes a submitted form asks for (parse errors go to `errors`)."""
    if not values["title"]:
        errors["title"] = "title is required"
    changes: dict[str, Any] = {
        "title": values["title"],
        "amount": parse_amount(values["amount"], errors),
        "currency": values["currency"].upper(),
        "responsible_id": optional_int(values, "responsible_id", errors),
        "tags": [t for t in (p.strip() for p in values["tags"].split(",")) if t],
    }
    contact = {k: values[f"contact_{k}"] or None for k in ("name", "email", "phone", "company")}
    changes["contact"] = {**contact, "name": contact["name"] or ""} if any(contact.values()) else None
    old = dict(deal.fields or {})
    new: dict[str, Any] = {}
    for key, value in values["fields"]:
        if not key:
            errors["fields"] = "every custom field needs a name"
        elif len(key) > 100:
            errors["fields"] = "custom field names are at most 100 characters"
        elif key in new:
            errors["fields"] = f"the field “{key}” appears twice"
        elif value:
            # Keep a stored number or flag as it is when the text shown for it was not edited.
            new[key] = old[key] if key in old and str(old[key]) == value else value
    changes["fields"] = {**{k: None for k in old if k not in new}, **new}
    return changes


async def edit_deal(request: Request) -> Response:
    """POST /deals/{id} — save the edit form (field errors 422, stale version 409)."""
    deal_id = request.path_params["deal_id"]
    values = _submitted(await request.form())

    def save(session: Session) -> None:
        user = web_user(request, session)
        deal = get_deal(session, deal_id, for_update=True)
        errors: dict[str, str] = {}
        version = optional_int(values, "version", errors)
        changes = _changes(session, deal, values, errors)
        if errors:
            raise ValidationError("invalid deal", errors)
        update_deal(session, deal_id, changes, actor=Actor.user(user.id), expected_version=version)

    try:
        await in_tx(request, save)
    except ValidationError as exc:
        fields = exc.fields

        def failed(session: Session) -> dict[str, Any]:
            web_user(request, session)
            return deal_context(request, session, deal_id, values=values, errors=fields,
                                message="The deal was not saved: please correct the marked fields.",
                                message_kind="error")

        return render(request, "deal.html", await in_tx(request, failed), status_code=422)
    except ConflictError:

        def stale(session: Session) -> dict[str, Any]:
            web_user(request, session)
            return deal_context(request, session, deal_id, message=CONFLICT_MESSAGE, message_kind="conflict",
                                attempted=values)

        return render(request, "deal.html", await in_tx(request, stale), status_code=409)
    request.session["flash"] = ("Saved.", "ok")
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


routes = [
    Route("/deals/{deal_id:int}", deal_page, methods=["GET"]),
    Route("/deals/{deal_id:int}", edit_deal, methods=["POST"]),
    Route("/deals/{deal_id:int}/live", deal_live, methods=["GET"]),
]
