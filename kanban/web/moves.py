"""Moving a card: drag and drop (htmx-style partial reply) and the no-JS "Move to…" form (redirect)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import policy, queries
from kanban.errors import ConflictError, KanbanError, NotFoundError, PermissionDeniedError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.models import Deal, Stage
from kanban.queries import BoardFilters
from kanban.services.deals import get_deal, move_deal, rank_between, reorder_deal
from kanban.web.access import access
from kanban.web.board import board_context, board_filters, ordered, page_size
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import board_url, optional_int, safe_return, sort_from, text
from kanban.web.templating import render


@dataclass
class MoveRequest:
    """What the browser asked: the deal, where to, its version, and its new neighbours."""

    deal_id: int
    stage_id: int
    version: int | None
    above_id: int | None
    below_id: int | None
    from_stage_id: int | None
    filters: BoardFilters
    return_to: str
    sort: str | None = None


@dataclass
class Outcome:
    """What happened, for the reply: message, status and the columns to re-render."""

    pipeline_id: int | None
    stage_ids: list[int] = field(default_factory=list)
    message: str | None = None
    kind: str = "info"
    status: int = 200


async def _read(request: Request) -> MoveRequest:
    form = await request.form()
    stage_id = optional_int(form, "stage_id")
    if stage_id is None:
        raise ValidationError(_("choose a stage to move the deal to"), {"stage_id": _("choose a stage")})
    return MoveRequest(
        deal_id=request.path_params["deal_id"], stage_id=stage_id, version=optional_int(form, "version"),
        above_id=optional_int(form, "above_id"), below_id=optional_int(form, "below_id"),
        from_stage_id=optional_int(form, "from_stage_id"), filters=board_filters(request, form),
        return_to=text(form, "return_to"), sort=sort_from(form),
    )


def _apply(session: Session, request: Request, ask: MoveRequest) -> Outcome:
    user = web_user(request, session)
    actor = Actor.user(user.id)
    deal = policy.require(session, user, "move", get_deal(session, ask.deal_id, for_update=True))
    source = deal.stage_id
    neighbours = ask.above_id is not None or ask.below_id is not None
    if ask.stage_id == deal.stage_id and neighbours:
        reorder_deal(session, deal.id, before_id=ask.above_id, after_id=ask.below_id, actor=actor,
                     expected_version=ask.version)
        return Outcome(deal.pipeline_id, [source])
    rank = rank_between(session, ask.stage_id, ask.above_id, ask.below_id) if neighbours else None
    result = move_deal(session, deal.id, ask.stage_id, actor=actor, expected_version=ask.version, rank=rank)
    target = session.get(Stage, ask.stage_id)
    if not result.moved:
        return Outcome(deal.pipeline_id, [source], f"“{deal.title}” is already in “{target.name}”.")
    return Outcome(deal.pipeline_id, [source, ask.stage_id], _("Moved “%(title)s” to “%(name)s”.",
                                                                title=deal.title, name=target.name), "ok")


def _conflict(session: Session, request: Request, ask: MoveRequest) -> Outcome:
    """The current state after a stale move, and a message saying who won."""
    user = web_user(request, session)
    deal = session.get(Deal, ask.deal_id)
    if deal is None or not policy.can(session, user, "read", deal):
        return Outcome(None, [], _("This deal no longer exists; the board shows the current state."), "conflict", 409)
    stage = session.get(Stage, deal.stage_id)
    where = stage.name if stage else _("another stage")
    if ask.from_stage_id is not None and ask.from_stage_id != deal.stage_id:
        text_ = f"“{deal.title}” was moved by someone else to “{where}”; the board shows the current state."
    else:
        text_ = f"“{deal.title}” was changed by someone else (it is in “{where}”); the board shows the current state."
    ids = [i for i in (ask.from_stage_id, ask.stage_id, deal.stage_id) if i is not None]
    return Outcome(deal.pipeline_id, ids, text_, "conflict", 409)


def _columns(session: Session, request: Request, outcome: Outcome, ask: MoveRequest,
             all_stages: list[Stage]) -> list[queries.Column]:
    """Only the changed columns, read together (one aggregate query, one next-activities query)."""
    if outcome.pipeline_id is None:
        return []
    wanted = set(outcome.stage_ids)
    stages = [s for s in all_stages if s.id in wanted]
    user = web_user(request, session)
    return ordered(queries.columns_of(session, stages, ask.filters, page_size(request), user), ask.sort)


def _partial(request: Request, session: Session, outcome: Outcome, ask: MoveRequest) -> dict[str, Any]:
    stages = queries.stages_of(session, outcome.pipeline_id) if outcome.pipeline_id else []
    return {
        "columns": _columns(session, request, outcome, ask, stages),
        "stages": stages,
        "filters": ask.filters, "sort": ask.sort, "board_url": board_url(outcome.pipeline_id, ask.filters, ask.sort),
        "message": outcome.message, "message_kind": outcome.kind, "people": queries.people(session),
    }


@access("deal:move")
async def move(request: Request) -> Response:
    """POST /deals/{id}/move — stage_id, version, above_id/below_id (drag), from_stage_id, return_to."""
    ask = await _read(request)
    partial = bool(request.headers.get("hx-request"))

    def moved(session: Session) -> tuple[Outcome, dict[str, Any] | None]:
        outcome = _apply(session, request, ask)
        return outcome, _partial(request, session, outcome, ask) if partial else None

    try:
        outcome, ctx = await in_tx(request, moved)
    except ConflictError:
        outcome, ctx = await in_tx(request, _stale, request, ask, partial)
    except (ValidationError, NotFoundError, PermissionDeniedError) as exc:
        # Without htmx a refused permission re-renders the board with a message; other errors are error pages.
        if not partial and not isinstance(exc, PermissionDeniedError):
            raise
        outcome, ctx = await in_tx(request, _refused, request, ask, exc, partial)
    if partial:
        return render(request, "partials/moved.html", ctx, status_code=outcome.status)
    return await _full_page(request, ask, outcome)


def _stale(session: Session, request: Request, ask: MoveRequest, partial: bool) -> tuple[Outcome, Any]:
    outcome = _conflict(session, request, ask)
    return outcome, _partial(request, session, outcome, ask) if partial else None


def _refused(session: Session, request: Request, ask: MoveRequest, exc: KanbanError,
             partial: bool = True) -> tuple[Outcome, Any]:
    user = web_user(request, session)
    deal = session.get(Deal, ask.deal_id)
    deal = deal if deal is not None and policy.can(session, user, "read", deal) else None
    detail = exc.message if isinstance(exc, PermissionDeniedError) else "; ".join(exc.fields.values()) or exc.message
    outcome = Outcome(deal.pipeline_id if deal else None, [i for i in (ask.from_stage_id, ask.stage_id) if i],
                      _("The move was refused: %(detail)s.", detail=detail), "error", exc.status)
    return outcome, _partial(request, session, outcome, ask) if partial else None


async def _full_page(request: Request, ask: MoveRequest, outcome: Outcome) -> Response:
    default = board_url(outcome.pipeline_id, ask.filters, ask.sort)
    target = safe_return(ask.return_to, default)
    if outcome.status == 200 or not target.startswith("/board"):
        if outcome.message:
            request.session["flash"] = (outcome.message, outcome.kind)
        return RedirectResponse(target, status_code=303)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return board_context(request, session, outcome.pipeline_id, ask.filters, message=outcome.message,
                             message_kind=outcome.kind, sort=ask.sort)

    return render(request, "board.html", await in_tx(request, load), status_code=outcome.status)


routes = [Route("/deals/{deal_id:int}/move", move, methods=["POST"])]
