"""GET/PATCH /settings, exchange rates, ISO 4217 currencies, minor units and amount_display."""

from __future__ import annotations

from typing import Any

import pytest

from kanban import company
from tests.api.conftest import error_of


def test_settings_default_then_patch(client: Any, admin_h: dict[str, str]) -> None:
    response = client.get("/api/v1/settings", headers=admin_h)
    assert response.status_code == 200
    assert response.json() == {"language": "en", "time_zone": "UTC", "currency": "USD",
                               "business_days": [1, 2, 3, 4, 5]}
    response = client.patch("/api/v1/settings", headers=admin_h, json={
        "language": "fr", "time_zone": "Europe/Paris", "currency": "eur", "business_days": [6, 1, 2, 3, 4, 5]})
    assert response.status_code == 200, response.text
    expected = {"language": "fr", "time_zone": "Europe/Paris", "currency": "EUR", "business_days": [1, 2, 3, 4, 5, 6]}
    assert response.json() == expected
    assert client.get("/api/v1/settings", headers=admin_h).json() == expected
    # Only what is given changes.
    assert client.patch("/api/v1/settings", headers=admin_h, json={"language": "it"}).json() == \
        {**expected, "language": "it"}


@pytest.mark.parametrize(("body", "field"), [
    ({"language": "de"}, "language"),
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"currency": "ZZZ"}, "currency"),
    ({"currency": "ÄÖÜ"}, "currency"),
    ({"business_days": []}, "business_days"),
    ({"business_days": [1, 1]}, "business_days"),
])
def test_bad_settings_are_422_and_save_nothing(client: Any, admin_h: dict[str, str], body: dict[str, Any],
                                                field: str) -> None:
    response = client.patch("/api/v1/settings", headers=admin_h, json={"currency": "EUR", **body})
    assert field in error_of(response, 422, "validation_error")["fields"]
    assert client.get("/api/v1/settings", headers=admin_h).json()["currency"] == "USD"


def test_settings_are_for_admins(client: Any, rep_h: dict[str, str]) -> None:
    assert client.get("/api/v1/settings", headers=rep_h).status_code == 403
    assert client.patch("/api/v1/settings", headers=rep_h, json={"language": "fr"}).status_code == 403


@pytest.mark.parametrize("currency", ["ZZZ", "ÄÖÜ", "EURO", "", "123"])
def test_deals_and_products_refuse_non_iso_currencies(client: Any, admin_h: dict[str, str], pipeline: Any,
                                                      currency: str) -> None:
    response = client.post("/api/v1/deals", headers=admin_h,
                           json={"title": "Bad money", "pipeline_id": pipeline.id, "currency": currency})
    assert error_of(response, 422, "validation_error")["fields"]["currency"] == "not an ISO 4217 code"
    response = client.post("/api/v1/products", headers=admin_h,
                           json={"name": "Chair", "price": 100, "currency": currency})
    assert error_of(response, 422, "validation_error")["fields"]["currency"] == "not an ISO 4217 code"


def test_amount_display_follows_minor_units_and_locale(client: Any, admin_h: dict[str, str], pipeline: Any) -> None:
    def create(amount: int, currency: str) -> dict[str, Any]:
        response = client.post("/api/v1/deals", headers=admin_h, json={
            "title": f"{currency} deal", "pipeline_id": pipeline.id, "amount": amount, "currency": currency})
        assert response.status_code == 201, response.text
        return response.json()

    eur = create(875000, "EUR")
    assert eur["amount_display"] == "€8,750.00"
    assert create(1000, "JPY")["amount_display"] == "¥1,000"  # JPY has no minor unit: not "10.00"
    assert create(1500, "KWD")["amount_display"] == "KWD\u00a01.500"  # three decimals
    client.patch("/api/v1/settings", headers=admin_h, json={"language": "fr"})
    assert client.get(f"/api/v1/deals/{eur['id']}", headers=admin_h).json()["amount_display"] == \
        "8\u202f750,00\u00a0€"
    client.patch("/api/v1/settings", headers=admin_h, json={"language": "it"})
    assert client.get(f"/api/v1/deals/{eur['id']}", headers=admin_h).json()["amount_display"] == "8.750,00\u00a0€"


def test_new_deals_default_to_the_company_currency(client: Any, admin_h: dict[str, str], pipeline: Any) -> None:
    client.patch("/api/v1/settings", headers=admin_h, json={"currency": "CHF"})
    response = client.post("/api/v1/deals", headers=admin_h, json={"title": "Swiss", "pipeline_id": pipeline.id})
    assert response.json()["currency"] == "CHF"


def test_exchange_rates(client: Any, admin_h: dict[str, str], rep_h: dict[str, str]) -> None:
    client.patch("/api/v1/settings", headers=admin_h, json={"currency": "EUR"})
    response = client.put("/api/v1/exchange-rates/usd", headers=admin_h, json={"rate": "0.92"})
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == \
        {"currency": "USD", "base": "EUR", "rate": "0.92"}
    assert client.put("/api/v1/exchange-rates/JPY", headers=admin_h, json={"rate": 0.0061}).status_code == 200
    listed = client.get("/api/v1/exchange-rates", headers=admin_h).json()["items"]
    assert [(r["currency"], r["rate"]) for r in listed] == [("JPY", "0.0061"), ("USD", "0.92")]
    for currency, rate, field in (("ZZZ", "1", "currency"), ("USD", "-1", "rate"), ("USD", "abc", "rate"),
                                  ("EUR", "1", "currency")):
        response = client.put(f"/api/v1/exchange-rates/{currency}", headers=admin_h, json={"rate": rate})
        assert field in error_of(response, 422, "validation_error")["fields"]
    assert client.put("/api/v1/exchange-rates/USD", headers=rep_h, json={"rate": "1"}).status_code == 403
    assert client.delete("/api/v1/exchange-rates/JPY", headers=admin_h).status_code == 204
    assert client.delete("/api/v1/exchange-rates/JPY", headers=admin_h).status_code == 404
    assert [r["currency"] for r in client.get("/api/v1/exchange-rates", headers=admin_h).json()["items"]] == ["USD"]


def test_users_time_zone(client: Any, admin_h: dict[str, str], rep: Any) -> None:
    response = client.patch(f"/api/v1/users/{rep.id}", headers=admin_h, json={"time_zone": "Europe/Rome"})
    assert response.status_code == 200, response.text
    assert response.json()["time_zone"] == "Europe/Rome"
    response = client.patch(f"/api/v1/users/{rep.id}", headers=admin_h, json={"time_zone": "Europe/Atlantis"})
    assert "time_zone" in error_of(response, 422, "validation_error")["fields"]
    assert client.patch(f"/api/v1/users/{rep.id}", headers=admin_h, json={"time_zone": None}).json()["time_zone"] \
        is None


def test_convert_sums_per_currency_into_the_company_currency() -> None:
    from decimal import Decimal

    table = {"USD": Decimal("0.92"), "JPY": Decimal("0.0061"), "KWD": Decimal("2.9")}
    result = company.convert([("EUR", 100000), ("USD", 50000), ("JPY", 100000), ("KWD", 1500), ("GBP", 100)],
                             "EUR", table)
    # 1000.00 + 460.00 + 610.00 + 4.35 = 2074.35 EUR; GBP has no rate.
    assert result == company.Converted("EUR", 207435, ("GBP",))
