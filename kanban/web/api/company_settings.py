"""API: the company's locale settings (language, time zone, currency, business days) and exchange rates."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kanban import company
from kanban.web.api.base import Call, endpoint, page
from kanban.web.api.schema import STR, TIME, arr, component, obj, page_of

LANGUAGE = {"type": "string", "enum": list(company.LANGUAGES)}
WEEKDAYS = arr({"type": "integer", "minimum": 1, "maximum": 7})
SETTINGS = component("CompanySettings", obj({
    "language": LANGUAGE, "time_zone": STR, "currency": STR, "business_days": WEEKDAYS,
}, ["language", "time_zone", "currency", "business_days"]))
SETTINGS_CHANGES = obj({"language": LANGUAGE, "time_zone": STR, "currency": STR, "business_days": WEEKDAYS})
RATE = component("ExchangeRate", obj({"currency": STR, "base": STR, "rate": STR, "updated_at": TIME},
                                     ["currency", "base", "rate", "updated_at"]))
RATE_VALUE = obj({"rate": {"type": ["string", "number"], "description": "1 currency = rate company currency"}},
                 ["rate"])


def _rate_json(row: company.ExchangeRate) -> dict[str, Any]:
    view = company.rate_view(row)
    return {**view, "updated_at": view["updated_at"].isoformat()}


@endpoint("The company's language, time zone, currency and business days (admin)", admin=True, response=SETTINGS)
def get_settings(call: Call) -> dict[str, Any]:
    """The settings (defaults until an admin saves some)."""
    return company.settings(call.session).view()


@endpoint("Change the company's settings (admin)", admin=True, body=SETTINGS_CHANGES, response=SETTINGS)
def patch_settings(call: Call) -> dict[str, Any]:
    """The settings after the change; 422 naming each bad field (nothing saved then)."""
    return company.update(call.session, call.body()).view()


@endpoint("Exchange rates into the company currency (admin)", admin=True, response=page_of(RATE))
def list_rates(call: Call) -> dict[str, Any]:
    """Every stored rate; those whose base is not the company currency no longer apply."""
    return page([_rate_json(r) for r in company.rate_rows(call.session)], None)


@endpoint("Set a currency's exchange rate into the company currency (admin)", admin=True, body=RATE_VALUE,
          response=RATE)
def put_rate(call: Call) -> dict[str, Any]:
    """The stored rate: 1 {currency} = rate company currency."""
    row = company.set_rate(call.session, call.request.path_params["currency"], call.body()["rate"])
    return _rate_json(row)


@endpoint("Remove a currency's exchange rate (admin)", admin=True, status=204)
def delete_rate(call: Call) -> None:
    """204; 404 when the currency has no rate."""
    company.delete_rate(call.session, call.request.path_params["currency"])


routes = [
    Route("/api/v1/settings", get_settings, methods=["GET"]),
    Route("/api/v1/settings", patch_settings, methods=["PATCH"]),
    Route("/api/v1/exchange-rates", list_rates, methods=["GET"]),
    Route("/api/v1/exchange-rates/{currency}", put_rate, methods=["PUT"]),
    Route("/api/v1/exchange-rates/{currency}", delete_rate, methods=["DELETE"]),
]
