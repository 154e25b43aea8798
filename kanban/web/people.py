"""Persons and organizations pages: list with search, create, detail with their deals, activities and notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.crm_models import Activity, Note
from kanban.errors import ConflictError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.inbox import emails_of_persons
from kanban.models import Deal, Organization, Person, Stage, User
from kanban.services import persons
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import text
from kanban.web.templating import render

PAGE_SIZE = 100
KINDS = {"persons": (Person, "person"), "organizations": (Organization, "organization")}


def _listing(session: Session, kind: str, q: str) -> list[Any]:
    stmt = persons.search_persons(session, q) if kind == "persons" else persons.search_organizations(session, q)
    model = KINDS[kind][0]
    return list(session.scalars(stmt.order_by(func.lower(model.name), model.id).limit(PAGE_SIZE)))


def _org_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(wanted))).all())


def list_context(session: Session, kind: str, q: str, **extra: Any) -> dict[str, Any]:
    """What records/people.html needs: the matching records and the new-record form."""
    rows = _listing(session, kind, q)
    ctx = {"kind": kind, "q": q, "rows": rows, "errors": {}, "values": {}, "existing": None,
           "org_names": _org_names(session, {getattr(r, "organization_id", None) for r in rows}),
           "organizations": _listing(session, "organizations", "") if kind == "persons" else []}
    ctx.update(extra)
    return ctx


@access("authenticated")
async def list_page(request: Request) -> Response:
    """GET /persons?q= and /organizations?q= — search by name (persons: and email)."""
    kind = request.url.path.strip("/").split("/")[0]
    q = text(request.query_params, "q")[:200]
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return list_context(session, kind, q, message=flash[0] if flash else None,
                            message_kind=flash[1] if flash else "info")

    return render(request, "people/list.html", await in_tx(request, load))


def _person_values(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name) or None for name in ("name", "email", "phone")}
    values["name"] = values["name"] or ""
    raw = text(form, "organization_id")
    if raw:
        if raw.isdigit():
            values["organization_id"] = int(raw)
        else:
            errors["organization_id"] = _("choose an organization from the list")
    else:
        values["organization_id"] = None
    if "language" in form:  # the client's language: their emails' (none: the company's)
        values["language"] = text(form, "language") or None
    return values


def _values(kind: str, form: Any, errors: dict[str, str]) -> dict[str, Any]:
    if kind == "persons":
        return _person_values(form, errors)
    return {"name": text(form, "name"), "address": text(form, "address") or None}


def _save(session: Session, kind: str, record_id: int | None, values: dict[str, Any], actor: Actor) -> int:
    if kind == "persons":
        if record_id is None:
            return persons.create_person(session, values, actor=actor).id
        return persons.update_person(session, record_id, values, actor=actor).id
    if record_id is None:
        return persons.create_organization(session, values, actor=actor).id
    return persons.update_organization(session, record_id, values, actor=actor).id


@access("authenticated")
async def save(request: Request) -> Response:
    """POST /persons, /organizations (create) and /persons/{id}, /organizations/{id} (edit)."""
    kind = request.url.path.strip("/").split("/")[0]
    record_id = request.path_params.get("record_id")
    form = await request.form()
    errors: dict[str, str] = {}
    values = _values(kind, form, errors)

    def work(session: Session) -> int:
        user = web_user(request, session)
        if errors:
            raise ValidationError(_("invalid input"), errors)
        return _save(session, kind, record_id, values, Actor.user(user.id))

    try:
        saved_id = await in_tx(request, work)
    except (ValidationError, ConflictError) as exc:
        return await _failed(request, kind, record_id, dict(form), exc)
    request.session["flash"] = (_("Person saved.") if kind == "persons" else _("Organization saved."), "ok")
    return RedirectResponse(f"/{kind}/{saved_id}", status_code=303)


async def _failed(request: Request, kind: str, record_id: int | None, form: dict[str, Any],
                  exc: ValidationError | ConflictError) -> Response:
    existing_id = exc.extra.get("existing_id")

    def reload(session: Session) -> dict[str, Any]:
        web_user(request, session)
        existing = session.get(Person, existing_id) if existing_id else None
        extra = {"errors": exc.fields, "values": form, "existing": existing, "message_kind": "error",
                 "message": _("Not saved: see the marked fields.")}
        if record_id is None:
            return list_context(session, kind, "", **extra)
        return detail_context(session, kind, record_id, **extra)

    template = "people/list.html" if record_id is None else "people/detail.html"
    return render(request, template, await in_tx(request, reload), status_code=exc.status)


def _deals_of(session: Session, kind: str, record_id: int) -> list[Any]:
    column = Deal.person_id if kind == "persons" else Deal.organization_id
    return list(session.execute(
        select(Deal, Stage.name).join(Stage, Stage.id == Deal.stage_id).where(column == record_id)
        .order_by(Deal.status != "open", Deal.id.desc()).limit(PAGE_SIZE)
    ).all())


def _people_of(session: Session, org_id: int) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.organization_id == org_id).order_by(Person.name)))


def _activities_of(session: Session, kind: str, record_id: int, deal_ids: list[int]) -> list[Activity]:
    conds = [Activity.person_id == record_id] if kind == "persons" else []
    if deal_ids:
        conds.append(Activity.deal_id.in_(deal_ids))
    if not conds:
        return []
    return list(session.scalars(select(Activity).where(or_(*conds))
                                .order_by(Activity.done, Activity.due_date, Activity.id).limit(PAGE_SIZE)))


def _notes_of(session: Session, kind: str, record_id: int, deal_ids: list[int]) -> list[Note]:
    own = Note.person_id == record_id if kind == "persons" else Note.organization_id == record_id
    cond = or_(own, Note.deal_id.in_(deal_ids)) if deal_ids else own
    return list(session.scalars(select(Note).where(cond).order_by(Note.id.desc()).limit(PAGE_SIZE)))


def detail_context(session: Session, kind: str, record_id: int, **extra: Any) -> dict[str, Any]:
    """A person or organization with their deals, people, activities and notes."""
    record = persons.get_person(session, record_id) if kind == "persons" else persons.get_organization(
        session, record_id)
    deals = _deals_of(session, kind, record_id)
    deal_ids = [d.id for d, _ in deals]
    notes = _notes_of(session, kind, record_id, deal_ids)
    activities = _activities_of(session, kind, record_id, deal_ids)
    user_ids = {n.author_id for n in notes} | {a.assignee_id for a in activities}
    members = _people_of(session, record_id) if kind == "organizations" else []
    # Received email from or to the person (an organization: its people), whether or not it is on a deal.
    emails = emails_of_persons(session, [record_id] if kind == "persons" else [p.id for p in members],
                               limit=PAGE_SIZE)
    ctx: dict[str, Any] = {
        "kind": kind, "record": record, "deals": deals, "notes": notes, "activities": activities,
        "deal_titles": {d.id: d.title for d, _ in deals},
        "users": dict(session.execute(select(User.id, User.name).where(User.id.in_(user_ids - {None}))).all()),
        "members": members, "emails": emails,
        "organization": session.get(Organization, record.organization_id)
        if kind == "persons" and record.organization_id else None,
        "organizations": _listing(session, "organizations", "") if kind == "persons" else [],
        "errors": {}, "values": {}, "existing": None, "message": None, "message_kind": "info",
    }
    ctx.update(extra)
    return ctx


@access("authenticated")
async def detail_page(request: Request) -> Response:
    """GET /persons/{id} and /organizations/{id}."""
    kind = request.url.path.strip("/").split("/")[0]
    record_id = request.path_params["record_id"]
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        extra = {"message": flash[0], "message_kind": flash[1]} if flash else {}
        return detail_context(session, kind, record_id, **extra)

    return render(request, "people/detail.html", await in_tx(request, load))


routes = [
    route
    for kind in KINDS
    for route in (
        Route(f"/{kind}", list_page, methods=["GET"]),
        Route(f"/{kind}", save, methods=["POST"]),
        Route(f"/{kind}/{{record_id:int}}", detail_page, methods=["GET"]),
        Route(f"/{kind}/{{record_id:int}}", save, methods=["POST"]),
    )
]
