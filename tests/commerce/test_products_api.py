"""Products and deal line items over the API: admin writes, validation, totals, the deal amount follows."""

from __future__ import annotations

from sqlalchemy import select

from kanban.domain_events import DomainEvent
from kanban.stage_totals import totals as stage_totals
from tests.api.conftest import error_of


def _product(client, headers, **values):
    body = {"name": "Widget", "price": 1999, "currency": "EUR", "tax_rate": 20, **values}
    return client.post("/api/v1/products", headers=headers, json=body)


def test_admin_manages_products_reps_read(client, admin_h, rep_h):
    created = _product(client, admin_h, sku="W-1")
    assert created.status_code == 201, created.text
    product = created.json()
    assert product == {"id": product["id"], "name": "Widget", "sku": "W-1", "price": 1999, "currency": "EUR",
                       "tax_rate": 20.0, "active": True}
    error_of(_product(client, rep_h), 403, "forbidden")
    assert client.get("/api/v1/products", headers=rep_h).json()["items"] == [product]
    changed = client.patch(f"/api/v1/products/{product['id']}", headers=admin_h, json={"price": 2500}).json()
    assert changed["price"] == 2500 and changed["name"] == "Widget"
    assert client.delete(f"/api/v1/products/{product['id']}", headers=admin_h).status_code == 204
    error_of(client.get(f"/api/v1/products/{product['id']}", headers=rep_h), 404, "not_found")


def test_product_validation(client, admin_h):
    assert error_of(_product(client, admin_h, currency="EUX"), 422, "validation_error")["fields"] == {
        "currency": "not an ISO 4217 code"}
    assert "tax_rate" in error_of(_product(client, admin_h, tax_rate=120), 422, "validation_error")["fields"]
    assert "price" in error_of(_product(client, admin_h, price=-1), 422, "validation_error")["fields"]
    _product(client, admin_h, sku="DUP")
    assert "sku" in error_of(_product(client, admin_h, sku="DUP"), 422, "validation_error")["fields"]
    assert client.get("/api/v1/products", headers=admin_h).json()["items"][0]["sku"] == "DUP"


def test_line_items_totals_and_deal_amount(client, admin_h, make_deal, runtime, pipeline):
    deal_id = make_deal(amount=100, currency="EUR")
    product = _product(client, admin_h).json()
    response = client.put(f"/api/v1/deals/{deal_id}/products", headers=admin_h, json={"items": [
        {"product_id": product["id"], "quantity": 3, "discount": 10},
        {"name": "Setup", "quantity": "1.5", "price": 10001, "tax_rate": "5.5"},
    ]})
    assert response.status_code == 200, response.text
    body = response.json()
    first, second = body["items"]
    assert (first["name"], first["price"], first["net"], first["tax"], first["gross"]) == ("Widget", 1999, 5397,
                                                                                           1079, 6476)
    # 1.5 × 100.01 = 150.015 → 150.02; 5.5 % of it = 8.2511 → 8.25
    assert (second["net"], second["tax"], second["gross"], second["quantity"]) == (15002, 825, 15827, 1.5)
    assert (body["net"], body["tax"], body["gross"]) == (20399, 1904, 22303)
    assert body["deal_amount"] == 22303
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["amount"] == 22303
    assert client.get(f"/api/v1/deals/{deal_id}/products", headers=admin_h).json() == body
    with runtime.sessions() as s:
        counted = stage_totals(s, [pipeline.stages[0].id])
        changed = s.scalars(select(DomainEvent).where(DomainEvent.type == "deal.updated")).all()
    assert any(row.changed == ["amount"] and row.new == {"amount": 22303} for row in changed)
    assert counted[pipeline.stages[0].id] == (1, [("EUR", 22303)])


def test_line_item_errors_write_nothing(client, admin_h, make_deal):
    deal_id = make_deal(amount=100, currency="USD")
    product = _product(client, admin_h).json()  # priced in EUR
    err = error_of(client.put(f"/api/v1/deals/{deal_id}/products", headers=admin_h, json={"items": [
        {"product_id": product["id"], "quantity": 1}]}), 422, "validation_error")
    assert "priced in EUR" in err["fields"]["items.0.price"]
    err = error_of(client.put(f"/api/v1/deals/{deal_id}/products", headers=admin_h, json={"items": [
        {"name": "A", "quantity": "0.0001", "price": 5}, ]}), 422, "validation_error")
    assert "items.0.quantity" in err["fields"]
    err = error_of(client.put(f"/api/v1/deals/{deal_id}/products", headers=admin_h, json={"items": [
        {"name": "A", "quantity": 1, "price": 5, "discount": 101}]}), 422, "validation_error")
    assert "items.0.discount" in err["fields"]
    assert client.get(f"/api/v1/deals/{deal_id}/products", headers=admin_h).json()["items"] == []
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["amount"] == 100
