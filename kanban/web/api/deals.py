"""API: deals — create, list with filters, read, edit, move, delete, timeline (all through kanban.policy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kanban import company, policy
from kanban.errors import ConflictError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, DealTag, Person, TimelineEntry
from kanban.services import deals as svc
from kanban.web.api import schema
from kanban.web.api.base import PAGE_PARAMS, Call, EndpointSpec, endpoint, page, paginate, parse_json
from kanban.web.api.schema import ANY_OBJ, BIGINT, INT, STR, arr, nullable, obj, page_of
from kanban.web.api.views import DEAL, TIMELINE_ENTRY, deal_view, deal_views, timeline_view
from kanban.web.deps import api_user, in_tx

T = TypeVar("T")

CONTACT_IN = obj({"name": STR, "email": nullable(STR), "phone": nullable(STR), "company": nullable(STR)}, ["name"])
DEAL_PROPS = {"title": STR, "amount": BIGINT, "currency": STR, "responsible_id": nullable(INT),
              "contact": nullable(CONTACT_IN), "fields": ANY_OBJ, "tags": arr(STR), "person_id": nullable(INT),
              "organization_id": nullable(INT)}
NEW_DEAL = obj({**DEAL_PROPS, "pipeline_id": INT, "stage_id": nullable(INT)}, ["title", "pipeline_id"])
DEAL_CHANGES = obj({**DEAL_PROPS, "version": INT})
MOVE = obj({"stage_id": INT, "version": INT}, ["stage_id"])
BULK_MOVE = obj({"deal_ids": arr(INT), "stage_id": INT,
                 "versions": {"type": "object", "additionalProperties": INT,
                              "description": "deal id -> the version the client saw; a deal changed since is a "
                                             "conflict and stays where it is"}},
                ["deal_ids", "stage_id"])
BULK_ITEM = obj({"deal_id": INT, "result": {"type": "string", "enum": list(svc.BULK_RESULTS)}, "version": INT,
                 "detail": STR, "from_stage_id": INT}, ["deal_id", "result"])
BULK_MOVED = obj({"stage_id": INT, "counts": obj({r: INT for r in svc.BULK_RESULTS}, list(svc.BULK_RESULTS)),
                  "results": arr(BULK_ITEM)}, ["stage_id", "counts", "results"])
FILTERS = [
    {"name": "pipeline_id", "in": "query", "schema": INT},
    {"name": "stage_id", "in": "query", "schema": INT},
    {"name": "q", "in": "query", "schema": STR, "description": "text in the title or the contact's name/email"},
    {"name": "responsible_id", "in": "query", "schema": INT},
    {"name": "tag", "in": "query", "schema": STR},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "won", "lost"]}},
    {"name": "person_id", "in": "query", "schema": INT},
    {"name": "organization_id", "in": "query", "schema": INT},
    *PAGE_PARAMS,
]


def _actor(call: Call) -> Actor:
    return Actor.user(call.user.id)


@endpoint("Create a deal (entering its stage starts that stage's robots)", status=201, body=NEW_DEAL,
          response=DEAL, access="deal:create")
def create_deal(call: Call) -> dict[str, Any]:
    """A new deal in the given stage, or the pipeline's first."""
    data = call.body()
    deal = svc.create_deal(
        call.session, title=data["title"], pipeline_id=data["pipeline_id"], actor=_actor(call),
        stage_id=data.get("stage_id"), amount=data.get("amount", 0),
        currency=data.get("currency", company.settings(call.session).currency),
        responsible_id=data.get("responsible_id"), contact=data.get("contact"), fields=data.get("fields"),
        tags=data.get("tags"), person_id=data.get("person_id"), organization_id=data.get("organization_id"),
    )
    return deal_view(call.session, deal)


@endpoint("List deals I may read, newest first", response=page_of(DEAL), params=FILTERS, access="deal:read")
def list_deals(call: Call) -> dict[str, Any]:
    """Deals matching the filters, keyset-paginated by id (newest first)."""
    stmt = policy.readable_deals(call.session, call.user, select(Deal))
    for name, column in (("pipeline_id", Deal.pipeline_id), ("stage_id", Deal.stage_id),
                         ("responsible_id", Deal.responsible_id), ("person_id", Deal.person_id),
                         ("organization_id", Deal.organization_id)):
        value = call.query_int(name)
        if value is not None:
            stmt = stmt.where(column == value)
    status = call.query_str("status")
    if status is not None:
        if status not in ("open", "won", "lost"):
            raise ValidationError(_("invalid status"), {"status": _("open, won or lost")})
        stmt = stmt.where(Deal.status == status)
    tag = call.query_str("tag")
    if tag is not None:
        stmt = stmt.where(Deal.id.in_(select(DealTag.deal_id).where(DealTag.tag == tag)))
    q = call.query_str("q")
    if q is not None:
        persons = select(Person.id).where(or_(Person.name.icontains(q, autoescape=True),
                                              Person.email.icontains(q, autoescape=True)))
        stmt = stmt.where(or_(Deal.title.icontains(q, autoescape=True), Deal.person_id.in_(persons)))
    rows, nxt = paginate(call, stmt, Deal.id, descending=True)
    return page(deal_views(call.session, rows), nxt)


@endpoint("Get a deal", response=DEAL, access="deal:read")
def get_deal(call: Call) -> dict[str, Any]:
    """One deal."""
    return deal_view(call.session, svc.get_deal(call.session, call.path_int("deal_id")))


@endpoint("Change a deal's fields (409 when `version` is stale); `fields` merges, null removes a key",
          body=DEAL_CHANGES, response=DEAL, access="deal:edit")
def update_deal(call: Call) -> dict[str, Any]:
    """The changed deal."""
    changes = call.body()
    version = changes.pop("version", None)
    deal_id = call.path_int("deal_id")
    deal = _detect_conflict(call, lambda: svc.update_deal(call.session, deal_id, changes, actor=_actor(call),
                                                          expected_version=version))
    return deal_view(call.session, deal)


@endpoint("Move a deal to a stage of its pipeline (same stage: no-op; 409 when `version` is stale)",
          body=MOVE, response=DEAL, access="deal:move")
def move_deal(call: Call) -> dict[str, Any]:
    """The deal after the move."""
    data = call.body()
    deal_id = call.path_int("deal_id")
    result = _detect_conflict(call, lambda: svc.move_deal(call.session, deal_id, data["stage_id"],
                                                          actor=_actor(call), expected_version=data.get("version")))
    return deal_view(call.session, result.deal)


BULK_SPEC = EndpointSpec(
    f"Move up to {svc.BULK_MAX} deals to a stage; each deal is checked and moved on its own (moved, unchanged, "
    "conflict, forbidden, not_found, invalid, blocked), in transactions of a hundred deals",
    body=BULK_MOVE, response=BULK_MOVED, access="deal:move")


async def bulk_move_deals(request: Request) -> Response:
    """POST /api/v1/deals/bulk-move: the outcome of every named deal, in the order named (ids named twice once).

    Not a plain `endpoint`: the deals are moved in chunks, each in a transaction of its own
    (kanban.web.bulk.run_bulk_move), so the request does not hold a thousand row locks to the end.
    """
    from kanban.web.bulk import counts_of, run_bulk_move

    raw = await request.body()
    user = await in_tx(request, lambda session: api_user(request, session))
    data = parse_json(raw)
    schema.check(BULK_MOVE, data)
    versions: dict[int, int] = {}
    for key, value in (data.get("versions") or {}).items():
        if not key.isdigit() or len(key) > 10:
            raise ValidationError(_("versions are keyed by deal id"), {f"versions.{key[:20]}": _("not a deal id")})
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(_("a version is an integer"), {f"versions.{key}": _("must be an integer")})
        versions[int(key)] = value
    items = await run_bulk_move(request, data["deal_ids"], data["stage_id"], Actor.user(user.id), versions)
    return JSONResponse({"stage_id": data["stage_id"], "counts": counts_of(items),
                         "results": [item.as_dict() for item in items]})


bulk_move_deals.openapi = BULK_SPEC  # type: ignore[attr-defined]
bulk_move_deals.access = BULK_SPEC.access  # type: ignore[attr-defined]


@endpoint("Delete a deal with its history", status=204, access="deal:delete")
def delete_deal(call: Call) -> None:
    """204; linked emails, SMS, chats and notifications stay, without the deal."""
    svc.delete_deal(call.session, call.path_int("deal_id"), actor=_actor(call))


def _detect_conflict(call: Call, work: Callable[[], T]) -> T:
    """Run work; a stale version becomes a 409 that carries the deal's current state and version."""
    try:
        return work()
    except ConflictError as exc:
        current = exc.extra.get("current")
        if not isinstance(current, Deal):
            raise
        view = deal_view(call.session, current)
        raise ConflictError(exc.message, {"version": _("the deal is at version %(version)s", version=current.version)},
                            current_version=current.version, current=view) from exc


@endpoint("A deal's timeline, newest first", response=page_of(TIMELINE_ENTRY), params=PAGE_PARAMS,
          access="deal:read")
def deal_timeline(call: Call) -> dict[str, Any]:
    """Timeline entries of one deal."""
    deal = svc.get_deal(call.session, call.path_int("deal_id"))
    stmt = select(TimelineEntry).where(TimelineEntry.deal_id == deal.id)
    rows, nxt = paginate(call, stmt, TimelineEntry.id, descending=True)
    return page([timeline_view(t) for t in rows], nxt)


routes = [
    Route("/api/v1/deals", list_deals, methods=["GET"]),
    Route("/api/v1/deals", create_deal, methods=["POST"]),
    Route("/api/v1/deals/bulk-move", bulk_move_deals, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}", get_deal, methods=["GET"]),
    Route("/api/v1/deals/{deal_id:int}", update_deal, methods=["PATCH"]),
    Route("/api/v1/deals/{deal_id:int}", delete_deal, methods=["DELETE"]),
    Route("/api/v1/deals/{deal_id:int}/move", move_deal, methods=["POST"]),
    Route("/api/v1/deals/{deal_id:int}/timeline", deal_timeline, methods=["GET"]),
]
