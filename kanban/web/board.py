"""The board: columns with counts and sums, load more, "+ deal" per column, filters in the URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import company, policy, queries
from kanban.errors import BadRequestError, NotFoundError, PermissionDeniedError, ValidationError
from kanban.events import Actor
from kanban.i18n import _
from kanban.logins import UserSession
from kanban.models import Pipeline, Stage, User
from kanban.queries import BoardFilters
from kanban.security import hash_token
from kanban.services import outcomes
from kanban.services.deals import create_deal
from kanban.services.pipelines import get_stage
from kanban.web.access import access
from kanban.web.deps import SESSION_COOKIE, in_tx, web_user
from kanban.web.forms import board_url, filters_from, optional_int, parse_amount, safe_return, sort_from, text
from kanban.web.templating import render


def page_size(request: Request) -> int:
    """How many cards a column shows before "load more"."""
    return max(1, request.app.state.runtime.settings.board_page_size)


def board_filters(request: Request, params: Any) -> BoardFilters:
    """The board filters of a request; "mine" means the signed-in user (checked again by web_user)."""
    return filters_from(params, signed_in_id(request) if text(params, "mine") == "1" else None)


def signed_in_id(request: Request) -> int | None:
    """The id of the user behind the request's session cookie, for filtering only (web_user still checks the
    session's timeouts and the user in the request's transaction)."""
    current = request.scope.get("user")
    if current is not None:
        return int(current.id)
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    with request.app.state.runtime.sessions() as session:
        return session.scalar(select(UserSession.user_id).where(UserSession.token_hash == hash_token(token)))


def _next_key(card: queries.Card) -> tuple[int, str, float, int]:
    # Overdue and today's activities come first (earliest due first), deals with none last.
    due = card.next_activity["due_at"] if card.next_activity else ""
    return (0 if due else 1, due, card.rank, card.id)


def order_cards(cards: list[queries.Card], sort: str | None) -> list[queries.Card]:
    """A column's shown cards in the chosen order (by next activity: the loaded cards, due first)."""
    return sorted(cards, key=_next_key) if sort == "next_activity" else cards


def ordered(columns: list[queries.Column], sort: str | None) -> list[queries.Column]:
    """Columns with their cards in the chosen order."""
    for col in columns:
        col.cards = order_cards(col.cards, sort)
    return columns


def _pipeline(session: Session, user: User, pipeline_id: int | None) -> tuple[list[Pipeline], Pipeline | None]:
    all_pipelines = queries.pipelines(session, user)
    if pipeline_id is None:
        return all_pipelines, all_pipelines[0] if all_pipelines else None
    chosen = next((p for p in all_pipelines if p.id == pipeline_id), None)
    if chosen is None:
        raise NotFoundError(_("pipeline %(pipeline_id)s not found", pipeline_id=pipeline_id))
    return all_pipelines, chosen


def board_context(request: Request, session: Session, pipeline_id: int | None, filters: BoardFilters,
                  **extra: Any) -> dict[str, Any]:
    """Everything board.html needs (also used to re-render after a failed form or move)."""
    user = web_user(request, session)
    all_pipelines, pipeline = _pipeline(session, user, pipeline_id)
    sort = sort_from(request.query_params) or extra.pop("sort", None)
    columns = queries.board(session, pipeline.id, filters, page_size(request), user) if pipeline else []
    ordered(columns, sort)
    ctx: dict[str, Any] = {
        "pipelines": all_pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "stages": [c.stage for c in columns],
        "filters": filters,
        "people": queries.people(session),
        "tags": queries.known_tags(session),
        "board_url": board_url(pipeline.id if pipeline else None, filters, sort),
        "sort": sort,
        "message": None,
        "message_kind": "info",
        "create_stage_id": None,
        "create_errors": {},
        "create_values": {},
        "lost_reasons": outcomes.lost_reasons(session),
        "lost_reason_required": bool(pipeline and pipeline.lost_reason_required),
    }
    ctx.update(extra)
    return ctx


@access("deal:read")
async def board_page(request: Request) -> Response:
    """GET /board?pipeline_id=&responsible_id=&tag=&q= — the Kanban board."""
    pipeline_id = optional_int(request.query_params, "pipeline_id")
    filters = board_filters(request, request.query_params)
    flash = request.session.pop("flash", None)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        ctx = board_context(request, session, pipeline_id, filters)
        if flash:
            ctx["message"], ctx["message_kind"] = flash
        return ctx

    return render(request, "board.html", await in_tx(request, load))


def column_context(request: Request, session: Session, stage_id: int, filters: BoardFilters) -> dict[str, Any]:
    """The context of one column partial."""
    user = web_user(request, session)
    stage = get_stage(session, stage_id)
    policy.require_pipeline(session, user, stage.pipeline_id)
    sort = sort_from(request.query_params)
    col = ordered([queries.column(session, stage, filters, page_size(request), user)], sort)[0]
    return {"col": col, "stages": queries.stages_of(session, stage.pipeline_id), "filters": filters, "sort": sort,
            "board_url": board_url(stage.pipeline_id, filters, sort), "people": queries.people(session)}


@access("deal:read")
async def column_fragment(request: Request) -> Response:
    """GET /board/columns/{stage_id} — one column re-rendered (live updates)."""
    stage_id = request.path_params["stage_id"]
    filters = board_filters(request, request.query_params)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return column_context(request, session, stage_id, filters)

    return render(request, "partials/column.html", await in_tx(request, load))


@access("deal:read")
async def more_cards(request: Request) -> Response:
    """GET /board/columns/{stage_id}/more?cursor= — the next page of a column (keyset pagination)."""
    stage_id = request.path_params["stage_id"]
    filters = board_filters(request, request.query_params)
    after = queries.parse_cursor(request.query_params.get("cursor"))
    if after is None:
        raise ValidationError(_("bad cursor"), {"cursor": _("expected rank:id")})

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        stage = get_stage(session, stage_id)
        policy.require_pipeline(session, user, stage.pipeline_id)
        page, more = queries.cards(session, stage, filters, page_size(request), after, user=user)
        col = queries.Column(stage, cards=page, more=more)
        sort = sort_from(request.query_params)
        return {"col": col, "cards": order_cards(page, sort), "stages": queries.stages_of(session, stage.pipeline_id),
                "filters": filters, "sort": sort, "board_url": board_url(stage.pipeline_id, filters, sort)}

    return render(request, "partials/more.html", await in_tx(request, load))


def _new_deal_values(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    contact_name = text(form, "contact_name")
    currency = (text(form, "currency") or company.cached().currency).upper()
    return {
        "title": text(form, "title"),
        "amount": parse_amount(text(form, "amount"), errors, currency=currency),
        "currency": currency,
        "responsible_id": optional_int(form, "responsible_id", errors),
        "contact": {"name": contact_name, "email": text(form, "contact_email") or None} if contact_name else None,
    }


def _return_filters(request: Request, return_to: str) -> BoardFilters:
    """The board filters of the page a form came from (its return_to URL); none when it names no board."""
    parts = urlsplit(return_to)
    if parts.path != "/board" or parts.netloc:
        return BoardFilters()
    try:
        return board_filters(request, dict(parse_qsl(parts.query)))
    except BadRequestError:
        return BoardFilters()


@access("deal:create")
async def create_in_column(request: Request) -> Response:
    """POST /board/deals — "+ deal" in a column; errors re-render the board with the form open."""
    form = await request.form()
    errors: dict[str, str] = {}
    stage_id = optional_int(form, "stage_id")
    # The board's own filters travel in return_to: the form's responsible_id is the new deal's, not a filter.
    filters = _return_filters(request, text(form, "return_to"))
    values = _new_deal_values(form, errors)

    def work(session: Session) -> tuple[Stage, int]:
        user = web_user(request, session)
        stage = get_stage(session, stage_id or 0)
        policy.require_pipeline(session, user, stage.pipeline_id)
        if not values["title"]:
            errors["title"] = _("title is required")
        if errors:
            raise ValidationError(_("invalid deal"), errors)
        deal = create_deal(session, pipeline_id=stage.pipeline_id, stage_id=stage.id, actor=Actor.user(user.id),
                           **values)
        return stage, deal.id

    try:
        stage, _rest = await in_tx(request, work)
    except (ValidationError, PermissionDeniedError) as exc:
        fields = {**errors, **exc.fields}
        denied = isinstance(exc, PermissionDeniedError)
        message = (_("The deal was not created: %(message)s.", message=exc.message) if denied
                   else _("The deal was not created: see the form."))

        def reload(session: Session) -> dict[str, Any]:
            web_user(request, session)
            stage = get_stage(session, stage_id or 0)
            return board_context(request, session, stage.pipeline_id, filters, sort=sort_from(form),
                                 create_stage_id=stage.id,
                                 create_errors=fields, create_values=dict(form),
                                 message=message, message_kind="error")

        return render(request, "board.html", await in_tx(request, reload), status_code=exc.status)
    target = safe_return(text(form, "return_to"), board_url(stage.pipeline_id, filters, sort_from(form)))
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/board", board_page, methods=["GET"]),
    Route("/board/deals", create_in_column, methods=["POST"]),
    Route("/board/columns/{stage_id:int}", column_fragment, methods=["GET"]),
    Route("/board/columns/{stage_id:int}/more", more_cards, methods=["GET"]),
]
