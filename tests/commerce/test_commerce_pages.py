"""HTML: the deal page's products panel (edit lines, create documents, download PDFs) and the products page."""

from __future__ import annotations

from kanban.commerce import Document, Product
from tests.commerce.test_documents import pdf_text
from tests.conftest import csrf_of, login


def _lines_form(csrf, rows, remove=()):
    keys = ("product_id", "name", "quantity", "price", "discount", "tax_rate")
    data = {f"line_{k}": [row.get(k, "") for row in rows] for k in keys}
    return {"csrf_token": csrf, **data, "line_remove": list(remove)}


def test_admin_products_page(client, admin, runtime):
    login(client, admin.email)
    csrf = csrf_of(client, "/admin/products")
    added = client.post("/admin/products", data={"csrf_token": csrf, "name": "Sushi set", "price": "1500",
                                                 "currency": "jpy", "tax_rate": "8"}, follow_redirects=True)
    assert added.status_code == 200 and "Product added." in added.text and "1500 JPY" in added.text
    bad = client.post("/admin/products", data={"csrf_token": csrf, "name": "X", "price": "1.5", "currency": "JPY"},
                      follow_redirects=True)
    assert "too many decimals for JPY" in bad.text
    with runtime.sessions() as s:
        product = s.query(Product).one()
    assert (product.price, product.currency, product.tax_bp) == (1500, "JPY", 800)
    client.post(f"/admin/products/{product.id}/delete", data={"csrf_token": csrf})
    with runtime.sessions() as s:
        assert s.query(Product).count() == 0


def test_rep_cannot_open_products_page(client, rep):
    login(client, rep.email)
    assert client.get("/admin/products").status_code == 403


def test_deal_panel_edits_lines_and_makes_a_downloadable_invoice(client, rep, runtime, buyer_deal):
    deal_id = buyer_deal["deal_id"]
    login(client, rep.email)
    page = client.get(f"/deals/{deal_id}")
    assert 'id="deal-products"' in page.text and "No invoice or quote yet." in page.text
    assert "<strong>Dupont SAS</strong>" in page.text and "VAT FR44732829320" in page.text
    csrf = csrf_of(client, f"/deals/{deal_id}")
    saved = client.post(f"/deals/{deal_id}/products", data=_lines_form(csrf, [
        {"name": "Chaise", "quantity": "4", "price": "125.00", "tax_rate": "20"}]), follow_redirects=True)
    assert "Products saved." in saved.text and "600.00 EUR" in saved.text
    refused = client.post(f"/deals/{deal_id}/products", data=_lines_form(csrf, [
        {"name": "Chaise", "quantity": "4", "price": "125.001"}]), follow_redirects=True)
    assert "Not saved: items.0.price: too many decimals for EUR" in refused.text
    removed = client.post(f"/deals/{deal_id}/products", data=_lines_form(csrf, [
        {"name": "Chaise", "quantity": "4", "price": "125.00", "tax_rate": "20"},
        {"name": "Table", "quantity": "1", "price": "300"}], remove=["1"]), follow_redirects=True)
    assert "Table" not in removed.text.split("Invoices and quotes")[0].split("new-line")[0]
    made = client.post(f"/deals/{deal_id}/documents", data={"csrf_token": csrf, "type": "invoice"},
                       follow_redirects=True)
    assert "Document created." in made.text
    with runtime.sessions() as s:
        doc = s.query(Document).one()
    assert f'href="/documents/{doc.id}.pdf"' in made.text
    pdf = client.get(f"/documents/{doc.id}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert doc.number in pdf_text(pdf.content) and "600.00 EUR" in pdf_text(pdf.content)


def test_pdf_download_needs_a_login(client, buyer_deal):
    response = client.get("/documents/1.pdf", follow_redirects=False)
    assert response.status_code in (302, 303, 401)
