"""Every route declares its access level (kanban.web.access); a new route without one fails here."""

from __future__ import annotations

from starlette.routing import Mount, Route

from kanban.web.access import LEVELS, access_of


def _routes(app):
    for route in app.routes:
        if isinstance(route, Route):
            yield route
        else:
            assert isinstance(route, Mount), route
            # Mounts serve static files only (no data, no session).
            assert route.path in ("/static", "/robots-static"), route.path


def test_every_route_declares_an_access_level(app):
    missing = [f"{sorted(r.methods or [])} {r.path}" for r in _routes(app) if access_of(r.endpoint) is None]
    assert missing == []


def test_declared_levels_are_known(app):
    assert {access_of(r.endpoint) for r in _routes(app)} <= set(LEVELS)


def test_the_check_notices_an_undeclared_route(app):
    async def undeclared(request):  # pragma: no cover - never called
        raise AssertionError

    assert access_of(Route("/x", undeclared).endpoint) is None


def test_deal_routes_are_declared_as_such(app):
    """A route with a deal id in its path is about that deal: deal:<action> (or admin-only)."""
    loose = [r.path for r in _routes(app)
             if "{deal_id" in r.path and not str(access_of(r.endpoint)).startswith(("deal:", "admin"))]
    assert loose == []
