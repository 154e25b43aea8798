"""The Jinja2 environment for HTML views (autoescaped, with csrf and formatting helpers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from kanban.paths import resource
from kanban.web.csrf import csrf_token

templates = Jinja2Templates(directory=str(resource("templates")))


def money(amount: int | None, currency: str = "USD") -> str:
    """Minor units as a human amount: 123456, USD -> '1,234.56 USD'."""
    amount = amount or 0
    return f"{amount / 100:,.2f} {currency}"


def when(value: datetime | None) -> str:
    """A compact UTC timestamp for tables and timelines."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


templates.env.globals["csrf_token"] = csrf_token
templates.env.filters["money"] = money
templates.env.filters["when"] = when


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Any:
    """Render a template with the runtime's nav links and the current user in the context."""
    ctx = dict(context or {})
    runtime = request.app.state.runtime
    ctx.setdefault("nav_links", runtime.nav_links)
    ctx.setdefault("user", request.scope.get("user"))
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
