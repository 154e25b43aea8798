"""Form parsing shared by the HTML views: integers, money, board filters, safe return paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from kanban import money
from kanban.errors import BadRequestError
from kanban.i18n import _
from kanban.queries import ACTIVITY_FILTERS, STATUSES, BoardFilters
from kanban.web import INT32_MAX


def text(form: Mapping[str, Any], name: str) -> str:
    """A form field as a stripped string ('' when absent)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_int(form: Mapping[str, Any], name: str, errors: dict[str, str] | None = None) -> int | None:
    """An optional integer field; bad input is reported in errors, or raises BadRequestError."""
    raw = text(form, name)
    if not raw:
        return None
    # Ids and versions are 32-bit columns: a longer number is refused here, not by the database.
    value = int(raw) if raw.lstrip("-").isdigit() and len(raw) <= 11 else None
    if value is None or abs(value) > INT32_MAX:
        problem = (_("must be a whole number") if value is None and not raw.lstrip("-").isdigit()
                   else _("is out of range"))
        if errors is None:
            raise BadRequestError(_("%(name)s %(problem)s", name=name, problem=problem), {name: problem})
        errors[name] = problem
        return None
    return value


def parse_amount(raw: str, errors: dict[str, str], field: str = "amount", currency: str = "USD") -> int:
    """An amount typed in the reader's locale ("1,234.5", "1 234,5") as minor units of `currency` (123450 for
    two decimals); errors go to `errors`."""
    try:
        return money.parse_money(raw, currency)
    except ValueError as exc:
        errors[field] = str(exc)
        return 0


def format_amount(minor: int | None, currency: str = "USD") -> str:
    """Minor units as the decimal a person types back into the form: 123450 -> '1234.50' ('1234,50' in fr)."""
    return money.format_amount(minor, currency)


def filters_from(params: Mapping[str, Any], user_id: int | None = None) -> BoardFilters:
    """Board filters from query or form parameters (bad responsible_id -> BadRequestError); `mine=1` means
    the given user's deals."""
    q = text(params, "q")[:200]
    tag = text(params, "tag")[:100]
    status = text(params, "status")
    activity = text(params, "activity")
    return BoardFilters(responsible_id=optional_int(params, "responsible_id"), tag=tag or None, q=q or None,
                        status=status if status in STATUSES else None,
                        activity=activity if activity in ACTIVITY_FILTERS else None,
                        mine_id=user_id if user_id is not None and text(params, "mine") == "1" else None)


SORTS = ("next_activity",)


def sort_from(params: Mapping[str, Any]) -> str | None:
    """The board's column order: None (the board's own rank) or "next_activity"."""
    sort = text(params, "sort")
    return sort if sort in SORTS else None


def board_url(pipeline_id: int | None, filters: BoardFilters, sort: str | None = None) -> str:
    """The board URL that shows a pipeline with these filters (and column order)."""
    params: dict[str, str] = {}
    if pipeline_id is not None:
        params["pipeline_id"] = str(pipeline_id)
    params.update(filters.params())
    if sort:
        params["sort"] = sort
    return "/board" + ("?" + urlencode(params) if params else "")


def safe_return(value: str | None, default: str) -> str:
    """A local path to send the browser back to (never another host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
