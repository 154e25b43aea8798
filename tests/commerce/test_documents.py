"""Invoices and quotes: created from the deal, numbered per year without gaps (also under concurrency), PDF."""

from __future__ import annotations

import io
import threading

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from kanban import clock
from kanban.commerce import Document
from kanban.events import Actor
from kanban.services.documents import create_document
from tests.api.conftest import error_of


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_invoice_from_the_deal_with_lines_and_requisites(client, admin_h, buyer_deal):
    deal_id = buyer_deal["deal_id"]
    client.put(f"/api/v1/deals/{deal_id}/products", headers=admin_h, json={"items": [
        {"name": "Chaise", "quantity": 4, "price": 12500, "tax_rate": 20}]})
    created = client.post(f"/api/v1/deals/{deal_id}/documents", headers=admin_h, json={"type": "invoice"})
    assert created.status_code == 201, created.text
    doc = created.json()
    year = clock.now().year
    assert doc["number"] == f"{year}-0001" and doc["total"] == 60000 and doc["currency"] == "EUR"
    assert doc["pdf_url"] == f"http://testserver/documents/{doc['id']}.pdf"
    assert doc["buyer"]["vat_number"] == "FR44732829320"
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=admin_h).json() == doc
    pdf = client.get(f"/api/v1/documents/{doc['id']}.pdf", headers=admin_h)
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'invoice-{year}-0001.pdf' in pdf.headers["content-disposition"]
    text = pdf_text(pdf.content)
    for expected in (f"Invoice {year}-0001", "Dupont SAS", "FR44732829320", "12 rue de la Paix, 75002 Paris, FR",
                     "SIRET: 73282932000074", "Chaise", "500.00 EUR", "100.00 EUR", "600.00 EUR", "Due date"):
        assert expected in text, expected
    second = client.post(f"/api/v1/deals/{deal_id}/documents", headers=admin_h, json={"type": "invoice"}).json()
    quote = client.post(f"/api/v1/deals/{deal_id}/documents", headers=admin_h, json={"type": "quote"}).json()
    assert (second["number"], quote["number"]) == (f"{year}-0002", f"Q{year}-0001")
    listed = client.get(f"/api/v1/deals/{deal_id}/documents", headers=admin_h).json()["items"]
    assert [d["number"] for d in listed] == [quote["number"], second["number"], doc["number"]]


def test_document_errors(client, admin_h, buyer_deal):
    deal_id = buyer_deal["deal_id"]
    assert "type" in error_of(client.post(f"/api/v1/deals/{deal_id}/documents", headers=admin_h,
                                          json={"type": "receipt"}), 422, "validation_error")["fields"]
    error_of(client.post("/api/v1/deals/9999/documents", headers=admin_h, json={"type": "quote"}), 404, "not_found")
    error_of(client.get("/api/v1/documents/9999.pdf", headers=admin_h), 404, "not_found")


def test_a_rolled_back_document_gives_its_number_back(runtime, admin, buyer_deal):
    with runtime.sessions() as s:
        with s.begin():
            create_document(s, buyer_deal["deal_id"], "invoice", actor=Actor.user(admin.id), company_name="Us")
            s.rollback()
    with runtime.sessions() as s, s.begin():
        doc = create_document(s, buyer_deal["deal_id"], "invoice", actor=Actor.user(admin.id), company_name="Us")
        assert doc.seq == 1


def test_twenty_concurrent_invoices_get_numbers_1_to_20(runtime, admin, buyer_deal, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrency of row locks is a PostgreSQL matter (SQLite writers are serialised)")
    start, errors = threading.Barrier(20), []

    def make() -> None:
        try:
            start.wait()
            with runtime.sessions() as s, s.begin():
                create_document(s, buyer_deal["deal_id"], "invoice", actor=Actor.user(admin.id), company_name="Us")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.sessions() as s:
        seqs = sorted(s.scalars(select(Document.seq)))
    assert seqs == list(range(1, 21))


def test_a_document_is_only_readable_with_its_deal(client, runtime, admin_h, buyer_deal):
    """Reps whose role reads only their own deals get 404 for another rep's invoice (API, JSON and PDF, and page)."""
    from tests.access.conftest import set_scopes
    from tests.conftest import login, make_user, token_for

    doc = client.post(f"/api/v1/deals/{buyer_deal['deal_id']}/documents", headers=admin_h,
                      json={"type": "invoice"}).json()
    make_user(runtime, "outsider@example.com", "rep", "Otto Outsider")
    outsider = {"Authorization": f"Bearer {token_for(runtime, 'outsider@example.com')}"}
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=outsider).status_code == 200  # reps read all
    set_scopes(runtime, "rep", read="own")
    error_of(client.get(f"/api/v1/documents/{doc['id']}", headers=outsider), 404, "not_found")
    error_of(client.get(f"/api/v1/documents/{doc['id']}.pdf", headers=outsider), 404, "not_found")
    assert client.get(f"/api/v1/documents/{doc['id']}.pdf", headers=admin_h).status_code == 200
    login(client, "outsider@example.com")
    assert client.get(f"/documents/{doc['id']}.pdf").status_code == 404
