"""In real Chromium: create an invoice from the deal page, download its PDF and read it back with pypdf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kanban.events import Actor
from kanban.services.deals import create_deal
from kanban.services.persons import create_organization, create_person
from kanban.services.pipelines import create_pipeline
from kanban.services.products import set_line_items
from kanban.services.requisites import save_requisite
from tests.browser.conftest import browser_login
from tests.commerce.conftest import FR_BUYER
from tests.commerce.test_documents import pdf_text
from tests.conftest import make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def french_deal(live_runtime: Any) -> int:
    """A rep's EUR deal of Dupont SAS with two lines (gross 630.00 EUR)."""
    rep = make_user(live_runtime, "rep@example.com", "rep", "Rex Rep")
    with live_runtime.sessions() as s, s.begin():
        actor = Actor.user(rep.id)
        pipeline = create_pipeline(s, "Sales", [{"name": "New"}, {"name": "Won", "kind": "won"}])
        org = create_organization(s, {"name": "Dupont"}, actor=actor)
        save_requisite(s, "organization", org.id, FR_BUYER)
        person = create_person(s, {"name": "Marie Dupont", "organization_id": org.id}, actor=actor)
        deal = create_deal(s, title="Dupont order", pipeline_id=pipeline.id, actor=actor, currency="EUR",
                           responsible_id=rep.id, person_id=person.id, organization_id=org.id)
        set_line_items(s, deal.id, [{"name": "Chaise", "quantity": 4, "price": 12500, "tax_rate": 20},
                                    {"name": "Livraison", "quantity": 1, "price": 3000}], actor=actor)
        return deal.id


def test_download_an_invoice_pdf_from_the_deal_page(browser, live_server, french_deal, tmp_path: Path):
    page = browser.new_page(accept_downloads=True)
    browser_login(page, live_server, "rep@example.com")
    page.goto(f"{live_server}/deals/{french_deal}")
    assert page.locator("#deal-products .gross-total").inner_text() == "630.00 EUR"
    page.get_by_role("button", name="Create invoice").click()
    link = page.locator("#deal-products a.pdf-link").first
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    number = download.suggested_filename.removeprefix("invoice-").removesuffix(".pdf")
    text = pdf_text(target.read_bytes())
    assert f"Invoice {number}" in text and number.endswith("-0001")
    assert "VAT: FR44732829320" in text and "630.00 EUR" in text
    page.close()
