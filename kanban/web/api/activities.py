"""API: notes on deals, activities, won / lost / reopen, lost reasons, deleting a deal."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban.crm_models import ACTIVITY_TYPES, Activity
from kanban.events import Actor
from kanban.services import activities as acts
from kanban.services import notes as note_svc
from kanban.services import outcomes
from kanban.web.api.base import PAGE_PARAMS, Call, endpoint, page, paginate
from kanban.web.api.schema import BOOL, INT, STR, TIME, arr, component, nullable, obj, page_of
from kanban.web.api.views import DEAL, deal_view

NOTE = component(
    "Note",
    obj(
        {
            "id": INT,
            "deal_id": nullable(INT),
            "text": STR,
            "author_id": nullable(INT),
            "mentions": arr(INT),
            "created_at": TIME,
            "edited_at": nullable(TIME),
        },
        ["id", "text", "author_id", "mentions", "created_at"],
    ),
)
NOTE_IN = obj({"text": STR}, ["text"])
TYPE = {"type": "string", "enum": list(ACTIVITY_TYPES)}
ACTIVITY_PROPS = {
    "type": TYPE,
    "subject": STR,
    "due_date": STR,
    "due_time": nullable(STR),
    "duration_minutes": nullable(INT),
    "assignee_id": nullable(INT),
    "deal_id": nullable(INT),
    "person_id": nullable(INT),
    "note": nullable(STR),
}
ACTIVITY = component(
    "Activity",
    obj(
        {
            **ACTIVITY_PROPS,
            "id": INT,
            "done": BOOL,
            "done_at": nullable(TIME),
            "created_at": TIME,
            "due_at": STR,
            "state": {"type": "string", "enum": list(acts.STATES)},
        },
        ["id", "type", "subject", "due_date", "due_time", "assignee_id", "deal_id", "done", "state", "due_at"],
    ),
)
LOST = obj({"reason_id": nullable(INT), "reason": nullable(STR)})
LOST_REASON = component("LostReason", obj({"id": INT, "name": STR}, ["id", "name"]))
ACTIVITY_FILTERS = [{"name": n, "in": "query", "schema": INT} for n in ("assignee_id", "deal_id", "person_id")] + [
    {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(acts.STATES)}},
    {"name": "type", "in": "query", "schema": TYPE},
    *PAGE_PARAMS,
]


def _actor(call: Call) -> Actor:
    return Actor.user(call.user.id)


@endpoint("A deal's notes, newest first", access="deal:read", response=obj({"items": arr(NOTE)}, ["items"]))
def list_notes(call: Call) -> dict[str, Any]:
    """Every note of the deal."""
    return {"items": [note_svc.note_view(n) for n in note_svc.deal_notes(call.session, call.path_int("deal_id"))]}


@endpoint(
    "Write a note on a deal (@email mentions notify)", access="deal:read", status=201, body=NOTE_IN, response=NOTE
)
def add_note(call: Call) -> dict[str, Any]:
    """The new note."""
    note = note_svc.add_note(call.session, call.path_int("deal_id"), call.body()["text"], actor=_actor(call))
    return note_svc.note_view(note)


@endpoint("Edit my note", body=NOTE_IN, response=NOTE, access="authenticated")
def edit_note(call: Call) -> dict[str, Any]:
    """The changed note (403 for another author's)."""
    note = note_svc.edit_note(call.session, call.path_int("note_id"), call.body()["text"], actor=_actor(call))
    return note_svc.note_view(note)


@endpoint("Delete my note", status=204, access="authenticated")
def delete_note(call: Call) -> None:
    """The timeline keeps a "note deleted" row."""
    note_svc.delete_note(call.session, call.path_int("note_id"), actor=_actor(call))


@endpoint("List activities by assignee, deal, person, type, state", response=page_of(ACTIVITY), params=ACTIVITY_FILTERS,
          access="authenticated")
def list_activities(call: Call) -> dict[str, Any]:
    """By id."""
    stmt = acts.activities_query(
        assignee_id=call.query_int("assignee_id"),
        deal_id=call.query_int("deal_id"),
        person_id=call.query_int("person_id"),
        state=call.query_str("state"),
        type_=call.query_str("type"),
        user=call.user,
    )
    rows, nxt = paginate(call, stmt, Activity.id)
    return page([acts.activity_json(a) for a in rows], nxt)


@endpoint("Plan an activity", status=201, body=obj(ACTIVITY_PROPS, ["type", "subject", "due_date"]), response=ACTIVITY,
          access="authenticated")
def create_activity(call: Call) -> dict[str, Any]:
    """The new activity (assignee: me by default)."""
    return acts.activity_json(acts.create_activity(call.session, call.body(), actor=_actor(call)))


@endpoint("Get an activity", response=ACTIVITY, access="authenticated")
def get_activity(call: Call) -> dict[str, Any]:
    """One activity."""
    return acts.activity_json(acts.get_activity(call.session, call.path_int("activity_id")))


@endpoint(
    'Change an activity ({"done": true} completes it)', body=obj({**ACTIVITY_PROPS, "done": BOOL}), response=ACTIVITY
, access="authenticated")
def update_activity(call: Call) -> dict[str, Any]:
    """The changed activity."""
    activity = acts.update_activity(call.session, call.path_int("activity_id"), call.body(), actor=_actor(call))
    return acts.activity_json(activity)


@endpoint("Delete an activity", status=204, access="authenticated")
def delete_activity(call: Call) -> None:
    """Gone; the deal's timeline says so."""
    acts.delete_activity(call.session, call.path_int("activity_id"), actor=_actor(call))


@endpoint("Mark a deal won", access="deal:edit", response=DEAL)
def mark_won(call: Call) -> dict[str, Any]:
    """The deal, status won."""
    return deal_view(call.session, outcomes.mark_won(call.session, call.path_int("deal_id"), actor=_actor(call)))


@endpoint(
    "Mark a deal lost (422 when the pipeline requires a reason and none is given)",
    access="deal:edit",
    body=LOST,
    response=DEAL,
)
def mark_lost(call: Call) -> dict[str, Any]:
    """The deal, status lost."""
    data = call.body() if call.raw_body.strip() else {}
    deal = outcomes.mark_lost(
        call.session,
        call.path_int("deal_id"),
        actor=_actor(call),
        reason_id=data.get("reason_id"),
        reason=data.get("reason"),
    )
    return deal_view(call.session, deal)


@endpoint("Reopen a won or lost deal", access="deal:edit", response=DEAL)
def reopen(call: Call) -> dict[str, Any]:
    """The deal, status open."""
    return deal_view(call.session, outcomes.reopen(call.session, call.path_int("deal_id"), actor=_actor(call)))


@endpoint("List lost reasons", response=obj({"items": arr(LOST_REASON)}, ["items"]), access="authenticated")
def list_lost_reasons(call: Call) -> dict[str, Any]:
    """Alphabetical."""
    return {"items": [{"id": r.id, "name": r.name} for r in outcomes.lost_reasons(call.session)]}


@endpoint("Add a lost reason", status=201, admin=True, body=obj({"name": STR}, ["name"]), response=LOST_REASON)
def create_lost_reason(call: Call) -> dict[str, Any]:
    """The new reason."""
    reason = outcomes.create_lost_reason(call.session, call.body()["name"])
    return {"id": reason.id, "name": reason.name}


@endpoint("Delete a lost reason", status=204, admin=True)
def delete_lost_reason(call: Call) -> None:
    """Deals lost with it keep its text."""
    outcomes.delete_lost_reason(call.session, call.path_int("reason_id"))


routes = [
    Route("/api/v1/deals/{deal_id:int}/notes", list_notes, methods=["GET"]),
    Route("/api/v1/deals/{deal_id:int}/notes", add_note, methods=["POST"]),
    Route("/api/v1/notes/{note_id:int}", edit_note, methods=["PATCH"]),
    Route("/api/v1/notes/{note_id:int}", delete_note, methods=["DELETE"]),
    Route("/api/v1/activities", list_activities, methods=["GET"]),
    Route("/api/v1/activities", create_activity, methods=["POST"]),
    Route("/api/v1/activities/{activity_id:int}", get_activity, methods=["GET"]),
    Route("/api/v1/activities/{activity_id:int}", update_activity, methods=["PATCH"]),
    Route("/api/v1/activities/{activity_id:int}", delete_activity, methods=["DELETE"]),
    Route("/api/v1/deals/{deal_id:int}/won", mark_won, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/lost", mark_lost, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/reopen", reopen, methods=["POST"]),
    Route("/api/v1/lost-reasons", list_lost_reasons, methods=["GET"]),
    Route("/api/v1/lost-reasons", create_lost_reason, methods=["POST"]),
    Route("/api/v1/lost-reasons/{reason_id:int}", delete_lost_reason, methods=["DELETE"]),
]
