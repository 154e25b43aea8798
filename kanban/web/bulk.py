"""Bulk moves: the board's multi-select ("Move selected to…") and the chunked driver the JSON API shares.

The deals go in chunks of kanban.services.deals.BULK_CHUNK, one transaction each, so a thousand deals never
hold their row locks (or SQLite's write lock) for the whole move; each deal's outcome is reported one by one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import queries
from kanban.errors import ValidationError
from kanban.events import Actor
from kanban.i18n import _, ngettext
from kanban.models import Stage
from kanban.services import deals as svc
from kanban.web.access import access
from kanban.web.board import board_filters, ordered, page_size
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import board_url, optional_int, safe_return, sort_from, text
from kanban.web.templating import render


async def run_bulk_move(request: Request, deal_ids: list[int], stage_id: int, actor: Actor,
                        versions: dict[int, int] | None = None) -> list[svc.BulkItem]:
    """Move the deals chunk by chunk, each chunk in a transaction of its own; the outcome of every deal.

    A stage that does not exist fails the first chunk (422), before anything moved.
    """
    chunks = svc.bulk_chunks(deal_ids)
    done: list[list[svc.BulkItem]] = []
    # Each chunk lands on top of the column: the last chunk first, so the first deal named ends on top.
    for chunk in reversed(chunks):
        done.append(await in_tx(request, _chunk, chunk, stage_id, actor, versions))
    return [item for items in reversed(done) for item in items]


def _chunk(session: Session, chunk: list[int], stage_id: int, actor: Actor,
           versions: dict[int, int] | None) -> list[svc.BulkItem]:
    return svc.bulk_move_chunk(session, chunk, stage_id, actor=actor, versions=versions)


def counts_of(items: list[svc.BulkItem]) -> dict[str, int]:
    """How many deals had each result (every result named, zero included)."""
    found = Counter(item.result for item in items)
    return {result: found.get(result, 0) for result in svc.BULK_RESULTS}


def summary(items: list[svc.BulkItem], stage_name: str) -> tuple[str, str]:
    """The sentence the board shows, e.g. "998 moved to “Won”, 2 changed by someone else", and its kind."""
    counts = counts_of(items)
    parts = [ngettext("%(num)s moved to “%(stage)s”", "%(num)s moved to “%(stage)s”", counts["moved"],
                      stage=stage_name)]
    phrases = {  # written out in ngettext calls so that pybabel extracts them
        "unchanged": lambda n: ngettext("%(num)s was already there", "%(num)s were already there", n),
        "conflict": lambda n: ngettext("%(num)s changed by someone else", "%(num)s changed by someone else", n),
        "forbidden": lambda n: ngettext("%(num)s you may not move", "%(num)s you may not move", n),
        "not_found": lambda n: ngettext("%(num)s no longer exists", "%(num)s no longer exist", n),
        "invalid": lambda n: ngettext("%(num)s is in another pipeline", "%(num)s are in another pipeline", n),
        "blocked": lambda n: ngettext("%(num)s refused by the loop guard", "%(num)s refused by the loop guard", n),
    }
    for result, phrase in phrases.items():
        if counts[result]:
            parts.append(phrase(counts[result]))
    refused = counts["conflict"] + counts["forbidden"] + counts["not_found"] + counts["invalid"] + counts["blocked"]
    kind = "ok" if not refused else ("conflict" if counts["conflict"] else "error")
    return ", ".join(parts) + ".", kind


def parse_selection(values: list[str]) -> tuple[list[int], dict[int, int]]:
    """Checkbox values "id" or "id:version" → (ids in order, versions named); ValidationError on anything else."""
    ids: list[int] = []
    versions: dict[int, int] = {}
    for raw in values:
        head, _sep, tail = raw.strip().partition(":")
        try:
            deal_id = int(head)
            version = int(tail) if tail else None
        except ValueError:
            raise ValidationError(_("invalid selection"), {"deal_ids": _("not a deal: %(value)s", value=raw[:40])}) \
                from None
        ids.append(deal_id)
        if version is not None:
            versions[deal_id] = version
    return ids, versions


@access("deal:move")
async def bulk_move(request: Request) -> Response:
    """POST /board/bulk-move — deal_ids (repeated, "id:version"), stage_id, the board's filters; each deal is
    checked by kanban.policy. htmx: the touched columns and a message; without JS: back to the board."""
    form = await request.form()
    partial = bool(request.headers.get("hx-request"))
    filters, sort = board_filters(request, form), sort_from(form)
    stage_id = optional_int(form, "stage_id")
    ids, versions = parse_selection([str(v) for v in form.getlist("deal_ids")])
    if stage_id is None:
        raise ValidationError(_("choose a stage to move the deals to"), {"stage_id": _("choose a stage")})
    user = await in_tx(request, lambda session: web_user(request, session))
    items = await run_bulk_move(request, ids, stage_id, Actor.user(user.id), versions)

    def reply(session: Session) -> dict[str, Any]:
        web_user(request, session)
        stage = session.get(Stage, stage_id)
        assert stage is not None  # the first chunk checked it
        message, kind = summary(items, stage.name)
        return {"pipeline_id": stage.pipeline_id, "message": message, "kind": kind,
                "columns": _columns(request, session, stage, items, filters, sort) if partial else [],
                "stages": queries.stages_of(session, stage.pipeline_id) if partial else [],
                "people": queries.people(session) if partial else []}

    ctx = await in_tx(request, reply)
    url = board_url(ctx["pipeline_id"], filters, sort)
    if not partial:
        request.session["flash"] = (ctx["message"], ctx["kind"])
        return RedirectResponse(safe_return(text(form, "return_to"), url), status_code=303)
    return render(request, "partials/moved.html", {
        "columns": ctx["columns"], "stages": ctx["stages"], "people": ctx["people"],
        "message": ctx["message"], "message_kind": ctx["kind"], "bulk_counts": counts_of(items),
        "filters": filters, "sort": sort, "board_url": url,
    })


def _columns(request: Request, session: Session, target: Stage, items: list[svc.BulkItem], filters: Any,
             sort: str | None) -> list[queries.Column]:
    """The destination column and every column the selected deals were in."""
    user = web_user(request, session)
    touched = {target.id, *(item.from_stage_id for item in items if item.from_stage_id is not None)}
    stages = [s for s in queries.stages_of(session, target.pipeline_id) if s.id in touched]
    return ordered([queries.column(session, s, filters, page_size(request), user) for s in stages], sort)


routes = [Route("/board/bulk-move", bulk_move, methods=["POST"])]
