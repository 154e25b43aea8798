"""Core HTML routes: board, deals, admin pages (filled in by the web views)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route


async def home(request: Request) -> Response:
    """The board is the home page."""
    return RedirectResponse("/board", status_code=303)


routes = [Route("/", home)]
