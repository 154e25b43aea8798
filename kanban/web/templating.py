"""The Jinja2 environment for HTML views (autoescaped, with csrf and formatting helpers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jinja2 import pass_context
from markupsafe import Markup
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from kanban import company, i18n, timezones
from kanban.money import format_money as money_format
from kanban.money import parse_money as money_parse
from kanban.paths import resource
from kanban.services.notes import render_note
from kanban.web import timefmt
from kanban.web.csrf import csrf_token

templates = Jinja2Templates(directory=str(resource("templates")))


def money(amount: int | None, currency: str = "USD") -> str:
    """Minor units as the reader's locale writes money: 123456, USD -> '$1,234.56' (en), '1 234,56 $US' (fr)."""
    return money_format(amount, currency)


def typed_money(raw: str | None, currency: str) -> str:
    """An amount as typed in the form (reader's locale), shown as money; '' when it does not parse."""
    try:
        return money_format(money_parse(raw or "", currency), currency)
    except ValueError:
        return ""


@pass_context
def when(ctx: Any, value: datetime | None) -> str:
    """A timestamp in the reader's time zone, as a person says it ("today 14:05", "3 Dec")."""
    return timefmt.friendly(value, timefmt.zone_of(ctx.get("user")))


@pass_context
def due(ctx: Any, value: str | date | datetime | None) -> str:
    """A due date (or date and time) relative to the reader's today ("today", "tomorrow 09:00", "3 Dec")."""
    return timefmt.due(value, timefmt.zone_of(ctx.get("user")))


ACTIVITY_ICONS = {"call": "☎", "meeting": "◎", "task": "✓", "email": "✉", "deadline": "⚑"}


def activity_icon(kind: str | None) -> str:
    """A one-character symbol for an activity type (shown beside its text, never alone)."""
    return ACTIVITY_ICONS.get(kind or "", "•")


def activity_state(activity: Any) -> str:
    """overdue | today | upcoming | done for an activity, by the company calendar's today (due dates are its)."""
    return timezones.activity_state(activity.due_date, activity.done, timezones.today())


@pass_context
def activity_due(ctx: Any, activity: Any) -> str:
    """An activity's due date and time as the reader reads it, in their zone ("today 14:30", "Fri 6 Dec")."""
    return timefmt.due(timezones.due_at(activity.due_date, activity.due_time), timefmt.zone_of(ctx.get("user")))


@pass_context
def note_html(ctx: Any, note: Any) -> Markup:
    """A note (or its text) as safe HTML: escaped, links, line breaks, @mentions by name."""
    body = note if isinstance(note, str) else str(note.text)
    return render_note(body, ctx.get("mention_names") or {})


i18n.install(templates.env)
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["company_currency"] = lambda: company.cached().currency  # new deals' default currency
templates.env.filters["money"] = money
templates.env.filters["typed_money"] = typed_money
templates.env.filters["when"] = when
templates.env.filters["due"] = due
templates.env.filters["activity_icon"] = activity_icon
templates.env.filters["activity_state"] = activity_state
templates.env.filters["activity_due"] = activity_due
templates.env.filters["note_html"] = note_html
templates.env.filters["iso"] = timefmt.iso


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> Any:
    """Render a template with the runtime's nav links and the current user in the context."""
    ctx = dict(context or {})
    runtime = request.app.state.runtime
    ctx.setdefault("nav_links", runtime.nav_links)
    ctx.setdefault("user", request.scope.get("user"))
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
