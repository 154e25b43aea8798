"""Core HTML routes: board, moves, deal pages, admin pages, live events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.web import admin, board, commerce, deals, imports, live, moves, records


async def home(request: Request) -> Response:
    """The board is the home page."""
    return RedirectResponse("/board", status_code=303)


routes = [Route("/", home), *board.routes, *moves.routes, *deals.routes, *admin.routes, *live.routes,
          *records.routes, *imports.routes, *commerce.routes]
