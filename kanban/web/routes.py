"""Core HTML routes: board, moves, deal pages, people, activities, outcomes, admin pages, imports, live events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban.web import (
    account,
    activities,
    admin,
    board,
    bulk,
    commerce,
    company_admin,
    deals,
    imports,
    live,
    mailbox,
    moves,
    notifications,
    outcomes,
    people,
    person_picker,
    records,
    users_admin,
)
from kanban.web.access import access


@access("authenticated")
async def home(request: Request) -> Response:
    """The board is the home page."""
    return RedirectResponse("/board", status_code=303)


routes = [Route("/", home), *board.routes, *bulk.routes, *moves.routes, *deals.routes, *admin.routes, *live.routes,
          *records.routes, *notifications.routes, *account.routes, *person_picker.routes, *people.routes,
          *outcomes.routes, *activities.routes, *imports.routes, *users_admin.routes, *commerce.routes,
          *mailbox.routes, *company_admin.routes]
