"""Robots and locales: money/date template filters, email_client per language, company-zone delays and activities."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pydantic
import pytest
from sqlalchemy import select

from kanban import company
from kanban.crm_models import Activity
from kanban.models import Deal, EmailMessage, Person
from robots.config import clean_delay
from robots.forms import delay_label
from robots.kinds.email_client import EmailClientSettings
from robots.templating import TemplateError, render, use_locale
from tests.robots.kinds.conftest import Kit

VALUES = {"deal": {"amount": "8750.00", "currency": "EUR", "created_at": "2026-12-07T08:30:00+00:00",
                   "fields": {"due": "2026-03-29"}}}


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "€8,750.00 · December 7, 2026 8:30\u202fAM · March 29, 2026"),
    ("fr", "8\u202f750,00\u00a0€ · 7 décembre 2026 08:30 · 29 mars 2026"),
    ("it", "8.750,00\u00a0€ · 7 dicembre 2026 08:30 · 29 marzo 2026"),
])
def test_money_and_date_filters_follow_the_template_language(language: str, expected: str) -> None:
    template = "{{ deal.amount|money(deal.currency) }} · {{ deal.created_at|date }} · {{ deal.fields.due|date }}"
    company.forget()  # company zone: UTC
    with use_locale(language):
        assert render(template, "text", VALUES) == expected
        # Constants are not folded at compile time in another language.
        assert render("{{ 1234.5|money }}", "text", {}) == {"en": "1,234.5", "fr": "1\u202f234,5",
                                                             "it": "1.234,5"}[language]


def test_money_uses_the_currencys_minor_units_and_filters_refuse_garbage() -> None:
    with use_locale("en"):
        assert render("{{ '1000'|money('JPY') }} {{ '1.5'|money('KWD') }}", "text", {}) == "¥1,000 KWD\u00a01.500"
        assert render("{{ d|date('short') }}", "text", {"d": "2026-12-07"}) == "12/7/26"
        for bad in ("{{ 'lots'|money('EUR') }}", "{{ 'soon'|date }}", "{{ '2026-12-07'|date('weird') }}"):
            with pytest.raises(TemplateError):
                render(bad, "text", {})


def _set_language(kit: Kit, language: str | None) -> None:
    with kit.runtime.sessions() as s, s.begin():
        person = s.get(Person, s.get(Deal, kit.deal_id).person_id)
        person.language = language


def _last_email(kit: Kit) -> EmailMessage:
    with kit.runtime.sessions() as s:
        return list(s.scalars(select(EmailMessage).order_by(EmailMessage.id)))[-1]


SETTINGS = {"subject": "Your offer", "body": "<p>Total: {{ deal.amount|money(deal.currency) }}</p>",
            "subjects": {"fr": "Votre offre", "it": "La vostra offerta"},
            "bodies": {"fr": "<p>Total : {{ deal.amount|money(deal.currency) }}</p>",
                       "it": "<p>Totale: {{ deal.amount|money(deal.currency) }}</p>"}}


def test_email_client_sends_the_clients_language_else_the_companys(kit: Kit) -> None:
    _set_language(kit, "fr")
    kit.run("email_client", SETTINGS)
    mail = _last_email(kit)
    assert mail.subject == "Votre offre" and "Total : 1\u202f250,00\u00a0$US" in mail.body_html

    _set_language(kit, "it-IT")
    kit.run("email_client", SETTINGS, deal_id=kit.deal_id)
    mail = _last_email(kit)
    assert mail.subject == "La vostra offerta" and "Totale: 1.250,00\u00a0USD" in mail.body_html

    _set_language(kit, None)  # no language: the company's (Italian)
    with kit.runtime.sessions() as s, s.begin():
        company.update(s, {"language": "it"})
    kit.run("email_client", SETTINGS)
    assert _last_email(kit).subject == "La vostra offerta"

    _set_language(kit, "de")  # a language with no version of its own: the default text, money in the company's
    with kit.runtime.sessions() as s, s.begin():
        company.update(s, {"language": "en"})
    kit.run("email_client", SETTINGS)
    mail = _last_email(kit)
    assert mail.subject == "Your offer" and "Total: $1,250.00" in mail.body_html


def test_email_client_language_versions_are_checked() -> None:
    for bad in ({"bodies": {"de": "<p>Hallo</p>"}}, {"subjects": {"fr": "  "}},
                {"template_id": 3, "subject": None, "body": None, "subjects": {"fr": "Objet"}}):
        with pytest.raises(pydantic.ValidationError):
            EmailClientSettings.model_validate({"subject": "s", "body": "b", **bad})


def test_create_activity_counts_in_the_company_zone_or_the_named_one(kit: Kit, clock: Any) -> None:
    clock.at = datetime(2026, 6, 5, 21, 30, tzinfo=UTC)  # Friday 23:30 in Paris, Saturday 06:30 in Tokyo
    with kit.runtime.sessions() as s, s.begin():
        company.update(s, {"time_zone": "Europe/Paris"})
    kit.run("create_activity", {"subject": "Call", "due": {"in_business_days": 1, "time": "09:30"}})
    kit.run("create_activity", {"subject": "Tokyo call", "due": {"in_days": 0, "time": "17:00",
                                                                 "time_zone": "Asia/Tokyo"}}, deal_id=kit.deal_id)
    with kit.runtime.sessions() as s:
        paris, tokyo = s.scalars(select(Activity).order_by(Activity.id)).all()
    assert (paris.due_date, paris.due_time) == (date(2026, 6, 8), time(9, 30))  # Monday 09:30 Paris
    # Saturday 17:00 in Tokyo is 10:00 in Paris: stored as the company's wall clock.
    assert (tokyo.due_date, tokyo.due_time) == (date(2026, 6, 6), time(10, 0))
    with pytest.raises(pydantic.ValidationError):
        from robots.kinds.create_activity import Due

        Due.model_validate({"time": "09:00", "time_zone": "Nowhere/Land"})


def test_delay_validation_and_label() -> None:
    errors: dict[str, str] = {}
    delay = clean_delay({"type": "business_days", "days": 2, "time": "09:00", "time_zone": "Europe/Rome"}, errors)
    assert errors == {} and delay == {"type": "business_days", "days": 2, "time": "09:00",
                                      "time_zone": "Europe/Rome"}
    assert delay_label(delay) == "in 2 business days at 09:00 (Europe/Rome)"
    assert delay_label({"type": "at_time", "time": "09:30"}) == "at 09:30"
    clean_delay({"type": "business_days", "days": -1, "time": "9h", "time_zone": "Mars/Base"}, errors)
    assert set(errors) == {"delay.days", "delay.time", "delay.time_zone"}
