"""Notes and activities from the deal page's composer, "My activities", mark done and reschedule."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import queries, timezones
from kanban.crm_models import ACTIVITY_TYPES, Activity, Note
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Deal, Person, User
from kanban.services import activities as svc
from kanban.services import notes
from kanban.web.access import access
from kanban.web.deals import deal_context
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import optional_int, safe_return, text
from kanban.web.templating import render

GROUPS = (("overdue", N_("Overdue")), ("today", N_("Today")), ("week", N_("This week")), ("later", N_("Later")))
COMPOSER_FIELDS = ("type", "subject", "due_date", "due_time", "duration_minutes", "assignee_id", "note")


def _back(form: Any, default: str) -> str:
    return safe_return(text(form, "return_to"), default)


async def _deal_page_error(request: Request, deal_id: int, exc: ValidationError, **extra: Any) -> Response:
    """The deal page again with the composer's typed values and errors (nothing was written)."""
    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return deal_context(request, session, deal_id, composer_errors=exc.fields, message_kind="error",
                            message=_("Not saved: see the form above the timeline."), **extra)

    return render(request, "deal.html", await in_tx(request, load), status_code=exc.status)


@access("deal:read")
async def add_note(request: Request) -> Response:
    """POST /deals/{id}/notes — a note on the timeline; @email mentions notify."""
    deal_id = request.path_params["deal_id"]
    form = await request.form()
    body = str(form.get("text") or "")

    def work(session: Session) -> None:
        notes.add_note(session, deal_id, body, actor=Actor.user(web_user(request, session).id))

    try:
        await in_tx(request, work)
    except ValidationError as exc:
        return await _deal_page_error(request, deal_id, exc, composer={"text": body}, composer_tab="note")
    request.session["flash"] = (_("Note added."), "ok")
    return RedirectResponse(f"/deals/{deal_id}#timeline", status_code=303)


@access("authenticated")
async def change_note(request: Request) -> Response:
    """POST /notes/{id}/edit (text) and /notes/{id}/delete — the author's own notes only."""
    note_id = request.path_params["note_id"]
    action = request.url.path.rsplit("/", 1)[1]
    form = await request.form()

    def work(session: Session) -> int | None:
        actor = Actor.user(web_user(request, session).id)
        note = session.get(Note, note_id)
        if action == "edit":
            notes.edit_note(session, note_id, form.get("text"), actor=actor)
        else:
            notes.delete_note(session, note_id, actor=actor)
        return note.deal_id if note else None

    try:
        deal_id = await in_tx(request, work)
    except ValidationError as exc:
        request.session["flash"] = ("The note was not changed: " + "; ".join(exc.fields.values()), "error")
        return RedirectResponse(_back(form, "/activities"), status_code=303)
    request.session["flash"] = (_("Note deleted.") if action == "delete" else _("Note saved."), "ok")
    return RedirectResponse(_back(form, f"/deals/{deal_id}#timeline" if deal_id else "/activities"), status_code=303)


def activity_values(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    """The create_activity values of a submitted form (blank optional fields left out)."""
    values: dict[str, Any] = {"type": text(form, "type"), "subject": text(form, "subject"),
                              "due_date": text(form, "due_date") or None}
    if text(form, "due_time"):
        values["due_time"] = text(form, "due_time")
    for name in ("duration_minutes", "assignee_id", "deal_id", "person_id"):
        number = optional_int(form, name, errors)
        if number is not None:
            values[name] = number
    if text(form, "note"):
        values["note"] = text(form, "note")
    return values


@access("authenticated")
async def create(request: Request) -> Response:
    """POST /activities — plan an activity (deal page composer or My activities)."""
    form = await request.form()
    errors: dict[str, str] = {}
    values = activity_values(form, errors)

    def work(session: Session) -> None:
        user = web_user(request, session)
        if errors:
            raise ValidationError(_("invalid activity"), errors)
        svc.create_activity(session, values, actor=Actor.user(user.id))

    deal_id = values.get("deal_id")
    try:
        await in_tx(request, work)
    except ValidationError as exc:
        typed = {k: text(form, k) for k in COMPOSER_FIELDS}
        if deal_id:
            return await _deal_page_error(request, deal_id, exc, composer=typed, composer_tab="activity")
        return await _activities_page(request, status=exc.status, errors=exc.fields, typed=typed)
    request.session["flash"] = (_("Planned: %(values)s.", values=values['subject']), "ok")
    return RedirectResponse(_back(form, f"/deals/{deal_id}" if deal_id else "/activities"), status_code=303)


@access("authenticated")
async def change(request: Request) -> Response:
    """POST /activities/{id}/done and /activities/{id}/reschedule (due_date, due_time)."""
    activity_id = request.path_params["activity_id"]
    action = request.url.path.rsplit("/", 1)[1]
    form = await request.form()

    def work(session: Session) -> str:
        actor = Actor.user(web_user(request, session).id)
        if action == "done":
            return _("Done: %(subject)s.", subject=svc.complete_activity(session, activity_id, actor=actor).subject)
        activity = svc.reschedule_activity(session, activity_id, text(form, "due_date") or None,
                                           text(form, "due_time") or None, actor=actor)
        return _("Rescheduled: %(subject)s.", subject=activity.subject)

    try:
        message, kind = await in_tx(request, work), "ok"
    except ValidationError as exc:
        message, kind = "Not changed: " + "; ".join(exc.fields.values() or [exc.message]) + ".", "error"
    request.session["flash"] = (message, kind)
    return RedirectResponse(_back(form, "/activities"), status_code=303)


def group_of(activity: Activity, today: date) -> str:
    """overdue | today | week (the next 7 days) | later."""
    if activity.due_date < today:
        return "overdue"
    if activity.due_date == today:
        return "today"
    return "week" if activity.due_date < today + timedelta(days=7) else "later"


def my_activities(session: Session, user: Any, assignee_id: int | None, type_: str | None,
                  person_id: int | None) -> dict[str, list[Activity]]:
    """Open activities by group, due first."""
    stmt = svc.activities_query(assignee_id=assignee_id, type_=type_, person_id=person_id)
    rows = session.scalars(stmt.where(Activity.done.is_(False))
                           .order_by(Activity.due_date, Activity.due_time.is_not(None), Activity.due_time,
                                     Activity.id).limit(500))
    today = timezones.today(user)
    groups: dict[str, list[Activity]] = {key: [] for key, _ in GROUPS}
    for activity in rows:
        groups[group_of(activity, today)].append(activity)
    return groups


def _names(session: Session, model: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    label = model.title if model is Deal else model.name
    return dict(session.execute(select(model.id, label).where(model.id.in_(wanted))).all())


async def _activities_page(request: Request, status: int = 200, **extra: Any) -> Response:
    params = request.query_params
    type_ = text(params, "type") if text(params, "type") in ACTIVITY_TYPES else None
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        who = text(params, "assignee_id")
        assignee_id = None if who == "anyone" else optional_int(params, "assignee_id") or user.id
        person_id = optional_int(params, "person_id")
        groups = my_activities(session, user, assignee_id, type_, person_id)
        shown = [a for items in groups.values() for a in items]
        ctx: dict[str, Any] = {
            "groups": [(key, label, groups[key]) for key, label in GROUPS], "types": ACTIVITY_TYPES,
            "type": type_, "assignee": "anyone" if assignee_id is None else str(assignee_id),
            "person": session.get(Person, person_id) if person_id else None, "people": queries.people(session),
            "users": _names(session, User, {a.assignee_id for a in shown}),
            "deal_titles": _names(session, Deal, {a.deal_id for a in shown}),
            "errors": {}, "typed": {}, "today_iso": timezones.today(user).isoformat(),
            "message": flash[0] if flash else None, "message_kind": flash[1] if flash else "info",
        }
        ctx.update(extra)
        if extra.get("errors"):
            ctx.update(message=_("Not planned: see the form."), message_kind="error")
        return ctx

    return render(request, "activities.html", await in_tx(request, load), status_code=status)


@access("authenticated")
async def activities_page(request: Request) -> Response:
    """GET /activities?assignee_id=|anyone&type=&person_id= — My activities: overdue, today, this week, later."""
    return await _activities_page(request)


routes = [
    Route("/activities", activities_page, methods=["GET"]),
    Route("/activities", create, methods=["POST"]),
    Route("/activities/{activity_id:int}/done", change, methods=["POST"]),
    Route("/activities/{activity_id:int}/reschedule", change, methods=["POST"]),
    Route("/deals/{deal_id:int}/notes", add_note, methods=["POST"]),
    Route("/notes/{note_id:int}/edit", change_note, methods=["POST"]),
    Route("/notes/{note_id:int}/delete", change_note, methods=["POST"]),
]
