"""The board: columns with counts and sums, load more, "+ deal" per column, filters in the URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import policy, queries
from kanban.errors import NotFoundError, PermissionDeniedError, ValidationError
from kanban.events import Actor
from kanban.models import Pipeline, Stage, User
from kanban.queries import BoardFilters
from kanban.services.deals import create_deal
from kanban.services.pipelines import get_stage
from kanban.web.access import access
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import board_url, filters_from, optional_int, parse_amount, safe_return, text
from kanban.web.templating import render


def page_size(request: Request) -> int:
    """How many cards a column shows before "load more"."""
    return max(1, request.app.state.runtime.settings.board_page_size)


def _pipeline(session: Session, user: User, pipeline_id: int | None) -> tuple[list[Pipeline], Pipeline | None]:
    all_pipelines = queries.pipelines(session, user)
    if pipeline_id is None:
        return all_pipelines, all_pipelines[0] if all_pipelines else None
    chosen = next((p for p in all_pipelines if p.id == pipeline_id), None)
    if chosen is None:
        raise NotFoundError(f"pipeline {pipeline_id} not found")
    return all_pipelines, chosen


def board_context(request: Request, session: Session, pipeline_id: int | None, filters: BoardFilters,
                  **extra: Any) -> dict[str, Any]:
    """Everything board.html needs (also used to re-render after a failed form or move)."""
    user = web_user(request, session)
    all_pipelines, pipeline = _pipeline(session, user, pipeline_id)
    columns = queries.board(session, pipeline.id, filters, page_size(request), user) if pipeline else []
    ctx: dict[str, Any] = {
        "pipelines": all_pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "stages": [c.stage for c in columns],
        "filters": filters,
        "people": queries.people(session),
        "tags": queries.known_tags(session),
        "board_url": board_url(pipeline.id if pipeline else None, filters),
        "message": None,
        "message_kind": "info",
        "create_stage_id": None,
        "create_errors": {},
        "create_values": {},
    }
    ctx.update(extra)
    return ctx


@access("deal:read")
async def board_page(request: Request) -> Response:
    """GET /board?pipeline_id=&responsible_id=&tag=&q= — the Kanban board."""
    pipeline_id = optional_int(request.query_params, "pipeline_id")
    filters = filters_from(request.query_params)
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
    col = queries.column(session, stage, filters, page_size(request), user)
    return {"col": col, "stages": queries.stages_of(session, stage.pipeline_id), "filters": filters,
            "board_url": board_url(stage.pipeline_id, filters), "people": queries.people(session)}


@access("deal:read")
async def column_fragment(request: Request) -> Response:
    """GET /board/columns/{stage_id} — one column re-rendered (live updates)."""
    stage_id = request.path_params["stage_id"]
    filters = filters_from(request.query_params)

    def load(session: Session) -> dict[str, Any]:
        web_user(request, session)
        return column_context(request, session, stage_id, filters)

    return render(request, "partials/column.html", await in_tx(request, load))


@access("deal:read")
async def more_cards(request: Request) -> Response:
    """GET /board/columns/{stage_id}/more?cursor= — the next page of a column (keyset pagination)."""
    stage_id = request.path_params["stage_id"]
    filters = filters_from(request.query_params)
    after = queries.parse_cursor(request.query_params.get("cursor"))
    if after is None:
        raise ValidationError("bad cursor", {"cursor": "expected rank:id"})

    def load(session: Session) -> dict[str, Any]:
        user = web_user(request, session)
        stage = get_stage(session, stage_id)
        policy.require_pipeline(session, user, stage.pipeline_id)
        page, more = queries.cards(session, stage, filters, page_size(request), after, user=user)
        col = queries.Column(stage, cards=page, more=more)
        return {"col": col, "cards": page, "stages": queries.stages_of(session, stage.pipeline_id),
                "filters": filters, "board_url": board_url(stage.pipeline_id, filters)}

    return render(request, "partials/more.html", await in_tx(request, load))


def _new_deal_values(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    contact_name = text(form, "contact_name")
    return {
        "title": text(form, "title"),
        "amount": parse_amount(text(form, "amount"), errors),
        "currency": (text(form, "currency") or "USD").upper(),
        "responsible_id": optional_int(form, "responsible_id", errors),
        "contact": {"name": contact_name, "email": text(form, "contact_email") or None} if contact_name else None,
    }


@access("deal:create")
async def create_in_column(request: Request) -> Response:
    """POST /board/deals — "+ deal" in a column; errors re-render the board with the form open."""
    form = await request.form()
    errors: dict[str, str] = {}
    stage_id = optional_int(form, "stage_id")
    filters = filters_from(form)
    values = _new_deal_values(form, errors)

    def work(session: Session) -> tuple[Stage, int]:
        user = web_user(request, session)
        stage = get_stage(session, stage_id or 0)
        policy.require_pipeline(session, user, stage.pipeline_id)
        if not values["title"]:
            errors["title"] = "title is required"
        if errors:
            raise ValidationError("invalid deal", errors)
        deal = create_deal(session, pipeline_id=stage.pipeline_id, stage_id=stage.id, actor=Actor.user(user.id),
                           **values)
        return stage, deal.id

    try:
        stage, _ = await in_tx(request, work)
    except (ValidationError, PermissionDeniedError) as exc:
        fields = {**errors, **exc.fields}
        denied = isinstance(exc, PermissionDeniedError)
        message = f"The deal was not created: {exc.message}." if denied else "The deal was not created: see the form."

        def reload(session: Session) -> dict[str, Any]:
            web_user(request, session)
            stage = get_stage(session, stage_id or 0)
            return board_context(request, session, stage.pipeline_id, filters, create_stage_id=stage.id,
                                 create_errors=fields, create_values=dict(form),
                                 message=message, message_kind="error")

        return render(request, "board.html", await in_tx(request, reload), status_code=exc.status)
    target = safe_return(text(form, "return_to"), board_url(stage.pipeline_id, filters))
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/board", board_page, methods=["GET"]),
    Route("/board/deals", create_in_column, methods=["POST"]),
    Route("/board/columns/{stage_id:int}", column_fragment, methods=["GET"]),
    Route("/board/columns/{stage_id:int}/more", more_cards, methods=["GET"]),
]
