"""Admin page "Company settings": language, time zone, currency, business days and exchange rates; and the
account page's own time zone choice."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kanban import company
from kanban.errors import KanbanError
from kanban.i18n import N_, _
from kanban.web.access import access
from kanban.web.deps import in_tx, require_admin, web_user
from kanban.web.templating import render

PAGE = "/admin/settings"
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "it": "Italiano"}  # each in its own language: not translated
WEEKDAY_NAMES = {1: N_("Monday"), 2: N_("Tuesday"), 3: N_("Wednesday"), 4: N_("Thursday"), 5: N_("Friday"),
                 6: N_("Saturday"), 7: N_("Sunday")}


def _context(session: Session, request: Request, **extra: Any) -> dict[str, Any]:
    require_admin(web_user(request, session))
    current = company.settings(session)
    rows = company.rate_rows(session)
    values = extra.pop("values", None) or {**current.view(), "business_days": list(current.business_days)}
    return {"settings": current, "values": values, "rates": rows, "errors": {}, "rate_errors": {},
            "rate_values": {"currency": "", "rate": ""}, "languages": LANGUAGE_NAMES,
            "weekdays": {d: _(n) for d, n in WEEKDAY_NAMES.items()}, "zone_names": sorted(company.zone_names()),
            "message": None, "message_kind": "info", **extra}


@access("admin")
async def settings_page(request: Request) -> Response:
    """GET /admin/settings — the company's settings and exchange rates."""
    flash = request.session.pop("flash", None)
    extra = {"message": flash[0], "message_kind": flash[1]} if flash else {}
    return render(request, "admin/company_settings.html", await in_tx(request, _context, request, **extra))


def _days(form: FormData) -> list[Any]:
    out: list[Any] = []
    for raw in form.getlist("business_days"):
        text = str(raw).strip()
        out.append(int(text) if text.isdigit() and len(text) < 3 else text)
    return out


@access("admin")
async def save_settings(request: Request) -> Response:
    """POST /admin/settings — save language, time zone, currency and business days (422 keeps the input)."""
    form = await request.form()
    data = {"language": str(form.get("language", "")).strip(), "time_zone": str(form.get("time_zone", "")).strip(),
            "currency": str(form.get("currency", "")).strip(), "business_days": _days(form)}

    def act(session: Session) -> None:
        require_admin(web_user(request, session))
        company.update(session, data)

    try:
        await in_tx(request, act)
    except KanbanError as exc:
        if exc.status != 422:
            raise
        ctx = await in_tx(request, _context, request, values=data, errors=exc.fields,
                          message=_("Not saved: see the form."), message_kind="error")
        return render(request, "admin/company_settings.html", ctx, status_code=422)
    request.session["flash"] = (_("Settings saved."), "ok")
    return RedirectResponse(PAGE, status_code=303)


@access("admin")
async def save_rate(request: Request) -> Response:
    """POST /admin/exchange-rates — enter or replace a currency's rate into the company currency."""
    form = await request.form()
    values = {"currency": str(form.get("currency", "")).strip(), "rate": str(form.get("rate", "")).strip()}

    def act(session: Session) -> str:
        require_admin(web_user(request, session))
        return company.set_rate(session, values["currency"], values["rate"]).currency

    try:
        code = await in_tx(request, act)
    except KanbanError as exc:
        if exc.status != 422:
            raise
        ctx = await in_tx(request, _context, request, rate_values=values, rate_errors=exc.fields,
                          message=_("Rate not saved: see the form."), message_kind="error")
        return render(request, "admin/company_settings.html", ctx, status_code=422)
    request.session["flash"] = (_("Rate of %(currency)s saved.", currency=code), "ok")
    return RedirectResponse(PAGE, status_code=303)


@access("admin")
async def delete_rate(request: Request) -> Response:
    """POST /admin/exchange-rates/{currency}/delete — remove a rate (404 when there is none)."""
    currency = request.path_params["currency"]

    def act(session: Session) -> None:
        require_admin(web_user(request, session))
        company.delete_rate(session, currency)

    await in_tx(request, act)
    request.session["flash"] = (_("Rate of %(currency)s removed.", currency=currency.upper()), "ok")
    return RedirectResponse(PAGE, status_code=303)


@access("authenticated")
async def save_my_time_zone(request: Request) -> Response:
    """POST /account/time-zone — my own time zone (blank: the company's); then back to the account page."""
    form = await request.form()
    zone = str(form.get("time_zone", "")).strip()

    def act(session: Session) -> str | None:
        user = web_user(request, session)
        if zone and zone not in company.zone_names():
            return _("%(zone)s is not a time zone: choose one from the list, e.g. Europe/Paris", zone=zone)
        user.time_zone = zone or None
        return None

    problem = await in_tx(request, act)
    request.session["flash"] = (problem, "error") if problem else (_("Time zone saved."), "ok")
    return RedirectResponse("/account/sessions", status_code=303)


routes = [
    Route(PAGE, settings_page, methods=["GET"]),
    Route(PAGE, save_settings, methods=["POST"]),
    Route("/admin/exchange-rates", save_rate, methods=["POST"]),
    Route("/admin/exchange-rates/{currency}/delete", delete_rate, methods=["POST"]),
    Route("/account/time-zone", save_my_time_zone, methods=["POST"]),
]
