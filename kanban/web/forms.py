"""Form parsing shared by the HTML views: integers, money, board filters, safe return paths."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from kanban.errors import BadRequestError
from kanban.queries import ACTIVITY_FILTERS, STATUSES, BoardFilters


def text(form: Mapping[str, Any], name: str) -> str:
    """A form field as a stripped string ('' when absent)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_int(form: Mapping[str, Any], name: str, errors: dict[str, str] | None = None) -> int | None:
    """An optional integer field; bad input is reported in errors, or raises BadRequestError."""
    raw = text(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        if errors is None:
            raise BadRequestError(f"{name} must be a whole number", {name: "must be a whole number"}) from None
        errors[name] = "must be a whole number"
        return None


def parse_amount(raw: str, errors: dict[str, str], field: str = "amount") -> int:
    """A decimal amount typed by a person ('1,234.5') as minor units (123450); errors go to `errors`."""
    cleaned = raw.replace(",", "").replace(" ", "").replace("_", "")
    if not cleaned:
        return 0
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        errors[field] = "enter an amount like 1234.50"
        return 0
    if not value.is_finite() or value < 0:
        errors[field] = "the amount cannot be negative"
        return 0
    if value != value.quantize(Decimal("0.01")):
        errors[field] = "at most two decimals"
        return 0
    if value > Decimal(10) ** 13:
        errors[field] = "the amount is too large"
        return 0
    return int(value * 100)


def format_amount(minor: int | None) -> str:
    """Minor units as the decimal a person types back into the form: 123450 -> '1234.50'."""
    minor = minor or 0
    return f"{minor // 100}.{minor % 100:02d}"


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


def board_url(pipeline_id: int | None, filters: BoardFilters) -> str:
    """The board URL that shows a pipeline with these filters."""
    params: dict[str, str] = {}
    if pipeline_id is not None:
        params["pipeline_id"] = str(pipeline_id)
    params.update(filters.params())
    return "/board" + ("?" + urlencode(params) if params else "")


def safe_return(value: str | None, default: str) -> str:
    """A local path to send the browser back to (never another host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
