"""The Company settings admin page, the account page's time zone, converted column totals, locale amounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kanban import company
from kanban.models import Deal, Person, User
from tests.conftest import csrf_of
from tests.web.conftest import add_deal


def _settings(runtime: Any) -> company.Settings:
    with runtime.sessions() as s:
        return company.settings(s)


def test_admin_saves_settings_and_bad_input_is_kept(admin_web: Any, runtime: Any) -> None:
    page = admin_web.get("/admin/settings")
    assert page.status_code == 200 and "Company settings" in page.text and "Exchange rates" in page.text
    token = csrf_of(admin_web, "/admin/settings")
    response = admin_web.post("/admin/settings", data={
        "csrf_token": token, "language": "fr", "time_zone": "Europe/Paris", "currency": "eur",
        "business_days": ["1", "2", "3", "4", "5"]}, follow_redirects=False)
    assert response.status_code == 303
    assert _settings(runtime) == company.Settings("fr", "Europe/Paris", "EUR", (1, 2, 3, 4, 5))
    assert "Settings saved." in admin_web.get("/admin/settings").text

    response = admin_web.post("/admin/settings", data={
        "csrf_token": token, "language": "it", "time_zone": "Europe/Nowhere", "currency": "ÄÖÜ"})
    assert response.status_code == 422
    errors = response.context["errors"]
    assert set(errors) == {"time_zone", "currency", "business_days"}
    assert 'value="Europe/Nowhere"' in response.text and 'value="ÄÖÜ"' in response.text  # nothing typed is lost
    assert _settings(runtime).language == "fr"  # nothing saved


def test_admin_enters_and_removes_exchange_rates(admin_web: Any, runtime: Any) -> None:
    token = csrf_of(admin_web, "/admin/settings")
    response = admin_web.post("/admin/exchange-rates", data={"csrf_token": token, "currency": "eur", "rate": "1,08"},
                              follow_redirects=False)
    assert response.status_code == 303
    assert "1 EUR = 1.08 USD" in admin_web.get("/admin/settings").text
    response = admin_web.post("/admin/exchange-rates", data={"csrf_token": token, "currency": "XYZ", "rate": "0"})
    assert response.status_code == 422 and set(response.context["rate_errors"]) == {"currency", "rate"}
    assert 'value="XYZ"' in response.text
    response = admin_web.post("/admin/exchange-rates/EUR/delete", data={"csrf_token": token},
                              follow_redirects=False)
    assert response.status_code == 303
    assert "No rates yet." in admin_web.get("/admin/settings").text


def test_settings_page_is_for_admins(rep_web: Any) -> None:
    assert rep_web.get("/admin/settings").status_code == 403
    token = csrf_of(rep_web)
    assert rep_web.post("/admin/settings", data={"csrf_token": token, "language": "fr"}).status_code == 403


def test_a_user_chooses_their_time_zone(rep_web: Any, runtime: Any, rep: Any) -> None:
    page = rep_web.get("/account/sessions")
    assert "The company&#39;s time zone (UTC)" in page.text or "The company's time zone (UTC)" in page.text
    token = csrf_of(rep_web, "/account/sessions")
    rep_web.post("/account/time-zone", data={"csrf_token": token, "time_zone": "Europe/Rome"})
    with runtime.sessions() as s:
        assert s.get(User, rep.id).time_zone == "Europe/Rome"
    assert "<option selected>Europe/Rome</option>" in rep_web.get("/account/sessions").text
    response = rep_web.post("/account/time-zone", data={"csrf_token": token, "time_zone": "Moon/Base"})
    assert "Moon/Base is not a time zone" in response.text
    rep_web.post("/account/time-zone", data={"csrf_token": token, "time_zone": ""})
    with runtime.sessions() as s:
        assert s.get(User, rep.id).time_zone is None


def test_columns_show_a_converted_total(rep_web: Any, runtime: Any, pipeline: Any, rep: Any) -> None:
    for amount, currency in ((100000, "EUR"), (50000, "USD"), (100000, "JPY"), (1000, "GBP")):
        add_deal(runtime, pipeline, rep, f"{currency} deal", amount=amount, currency=currency)
    with runtime.sessions() as s, s.begin():
        company.update(s, {"currency": "EUR"})
        company.set_rate(s, "USD", "0.92")
        company.set_rate(s, "JPY", "0.0061")
    response = rep_web.get(f"/board?pipeline_id={pipeline.id}")
    column = {c.stage.name: c for c in response.context["columns"]}["New"]
    assert column.converted == company.Converted("EUR", 100000 + 46000 + 61000, ("GBP",))
    assert "= €2,070.00" in response.text and "without GBP (no rate)" in response.text
    assert 'name="currency" value="EUR"' in response.text  # "+ deal" defaults to the company currency
    assert {c.stage.name: c for c in response.context["columns"]}["Qualified"].converted is None


def test_amounts_are_typed_and_shown_in_the_readers_locale(rep_web: Any, runtime: Any, pipeline: Any,
                                                           rep: Any) -> None:
    with runtime.sessions() as s, s.begin():
        company.update(s, {"language": "fr"})  # the reader's locale until they choose a language of their own
    deal = add_deal(runtime, pipeline, rep, "Paris deal", amount=875000, currency="EUR", responsible_id=rep.id)
    page = rep_web.get(f"/deals/{deal.id}")
    assert "8\u202f750,00\u00a0€" in page.text
    assert page.context["values"]["amount"] == "8750,00"
    token = csrf_of(rep_web, f"/deals/{deal.id}")
    data = {"csrf_token": token, "title": deal.title, "amount": "9 500,5", "currency": "EUR",
            "responsible_id": str(rep.id), "person_id": "", "tags": "", "version": str(deal.version),
            "field_key": [], "field_value": []}
    response = rep_web.post(f"/deals/{deal.id}", data=data, follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    with runtime.sessions() as s:
        assert s.get(Deal, deal.id).amount == 950050
    with runtime.sessions() as s:
        version = s.get(Deal, deal.id).version
    response = rep_web.post(f"/deals/{deal.id}", data={**data, "amount": "100,5", "currency": "JPY",
                                                       "version": str(version)})
    # The company speaks French and the rep chose no language: the message is French too.
    assert response.status_code == 422 and response.context["errors"]["amount"] == "JPY n'a pas de décimales"


def test_person_form_sets_the_clients_language(rep_web: Any, runtime: Any) -> None:
    token = csrf_of(rep_web, "/persons")
    response = rep_web.post("/persons", data={"csrf_token": token, "name": "Chiara Bianchi",
                                              "email": "chiara@example.it", "language": "it"},
                            follow_redirects=False)
    assert response.status_code == 303, response.text
    with runtime.sessions() as s:
        person = s.scalars(select(Person).where(Person.name == "Chiara Bianchi")).one()
        assert person.language == "it"
    page = rep_web.get(f"/persons/{person.id}")
    assert '<option value="it" selected>Italiano</option>' in page.text
    rep_web.post(f"/persons/{person.id}", data={"csrf_token": token, "name": "Chiara Bianchi", "language": ""})
    with runtime.sessions() as s:
        assert s.get(Person, person.id).language is None
