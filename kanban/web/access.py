"""Every route declares who may call it; tests/test_access_routes.py fails for a route that does not.

Levels: ``public`` (no login: login page, hooks, pixels, pay pages — authenticated by signature or token when
at all), ``authenticated`` (any signed-in user; the view filters what it shows through kanban.policy),
``admin``, and ``deal:<action>`` (the route reads or changes deals; kanban.policy decides per deal).

HTML views: ``@access("deal:read")`` above the view function. JSON API: ``endpoint(..., access="deal:read")``
(``admin=True`` and ``public=True`` declare themselves); an API route with a ``{deal_id}`` path parameter and a
``deal:<action>`` level is checked by the endpoint decorator before the function runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kanban.policy import ACTIONS

F = TypeVar("F", bound=Callable[..., Any])
LEVELS = ("public", "authenticated", "admin", *(f"deal:{a}" for a in ACTIONS))


def check_level(level: str) -> str:
    """The level itself, or ValueError for a misspelt one (caught when the module is imported)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}; one of {', '.join(LEVELS)}")
    return level


def access(level: str) -> Callable[[F], F]:
    """Declare a view's access level (read by the route-table test and the access matrix)."""
    check_level(level)

    def mark(fn: F) -> F:
        fn.access = level  # type: ignore[attr-defined]
        return fn

    return mark


def access_of(endpoint: Any) -> str | None:
    """The declared level of a route's endpoint, or None."""
    return getattr(endpoint, "access", None)
