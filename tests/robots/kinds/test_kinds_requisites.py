"""The payment group's kinds on a French buyer's deal: documents, requisites read and written, client SMS, and
emails carrying the invoice PDF."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.commerce import Document, EmailAttachment
from kanban.events import Actor
from kanban.models import EmailMessage, Organization, Person, SmsMessage, TimelineEntry
from kanban.services.deals import create_deal
from kanban.services.persons import create_organization, create_person
from kanban.services.products import set_line_items
from kanban.services.requisites import find_requisite, save_requisite
from robots.errors import PermanentError
from tests.commerce.conftest import FR_BUYER


@pytest.fixture
def fr_deal(kit: Any) -> int:
    """A EUR deal of Dupont SAS (French requisites, delivery address) and Marie Dupont, with two lines."""
    with kit.runtime.sessions() as s, s.begin():
        actor = Actor.user(kit.admin.id)
        org = create_organization(s, {"name": "Dupont"}, actor=actor)
        person = create_person(s, {"name": "Marie Dupont", "email": "marie@dupont.example",
                                   "phone": "06 12 34 56 78", "organization_id": org.id}, actor=actor)
        save_requisite(s, "organization", org.id, FR_BUYER)
        deal = create_deal(s, title="Dupont order", pipeline_id=kit.pipeline.id, actor=actor, currency="EUR",
                           responsible_id=kit.rep.id, person_id=person.id, organization_id=org.id)
        set_line_items(s, deal.id, [{"name": "Chaise", "quantity": 4, "price": 12500, "tax_rate": 20},
                                    {"name": "Livraison", "quantity": 1, "price": 3000}], actor=actor)
        return deal.id


def test_create_document_outputs_and_pdf(kit, fr_deal):
    out = kit.run("create_document", {"type": "invoice"}, deal_id=fr_deal)
    with kit.runtime.sessions() as s:
        doc = s.get(Document, out["document_id"])
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "document")).one()
    assert out == {"document_id": doc.id, "number": doc.number, "url": f"http://testserver/deals/{fr_deal}#document-"
                   f"{doc.id}", "pdf_url": f"http://testserver/documents/{doc.id}.pdf"}
    assert doc.run_id == kit.last_run_id and doc.gross == 63000 and doc.created_by_id == kit.rep.id
    assert doc.data["buyer"]["vat_number"] == "FR44732829320" and doc.pdf.startswith(b"%PDF")
    assert entry.actor_type == "robot" and doc.number in entry.text


def test_get_requisites_outputs_the_delivery_address(kit, fr_deal):
    out = kit.run("get_requisites", {"address_type": "delivery"}, deal_id=fr_deal)
    assert out == {"company_name": "Dupont SAS", "vat_number": "FR44732829320",
                   "address": "3 quai des Docks, 13002 Marseille, FR", "iban": "FR1420041010050500013M02606"}
    note = kit.run("notify", {"text": "Deliver to {{ robots.req.address }}", "recipients": [{"type": "responsible"}]},
                   deal_id=fr_deal, outputs_by_key={"req": out})
    assert note
    with pytest.raises(PermanentError, match="no it_company requisites"):
        kit.run("get_requisites", {"template": "it_company"}, deal_id=fr_deal)
    with pytest.raises(PermanentError, match="the deal has no organization"):
        kit.run("get_requisites", {})  # the kit's own deal has no organization


def test_modify_requisites_merges_rendered_values_and_refuses_bad_ones(kit, fr_deal):
    out = kit.run("modify_requisites", {"template": "fr_company", "address_type": "legal",
                                        "fields": {"city": "Lyon", "postal_code": "69001",
                                                   "siret": "732 829 320 {{ '00074' }}"}}, deal_id=fr_deal)
    assert out["changed"] == ["city", "postal_code", "siret"]
    with kit.runtime.sessions() as s:
        org_id = s.scalars(select(Organization.id).where(Organization.name == "Dupont")).one()
        row = find_requisite(s, "organization", org_id, "fr_company")
    assert row.addresses["legal"] == {"street": "12 rue de la Paix", "city": "Lyon", "postal_code": "69001",
                                      "country": "FR"}
    assert row.fields["siret"] == "73282932000074" and row.fields["vat_number"] == "FR44732829320"
    with pytest.raises(PermanentError, match="not a valid SIRET"):
        kit.run("modify_requisites", {"template": "fr_company", "fields": {"siret": "73282932000075"}},
                deal_id=fr_deal)
    with pytest.raises(ValueError, match="not fields of fr_company: partita_iva"):
        kit.run("modify_requisites", {"template": "fr_company", "fields": {"partita_iva": "1"}}, deal_id=fr_deal)


def test_sms_client_e164_and_opt_out(kit, fr_deal):
    out = kit.run("sms_client", {"text": "Commande {{ deal.title }} confirmée"}, deal_id=fr_deal)
    assert out["to_phone"] == "+33612345678" and out["status"] == "logged"  # region FR from the requisites
    with kit.runtime.sessions() as s, s.begin():
        s.scalars(select(Person).where(Person.name == "Marie Dupont")).one().sms_opt_out = True
    refused = kit.run("sms_client", {"text": "Promo"}, deal_id=fr_deal)
    with kit.runtime.sessions() as s:
        rows = {r.id: r for r in s.scalars(select(SmsMessage))}
        texts = [t.text for t in s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "sms"))]
    assert rows[out["message_id"]].text == "Commande Dupont order confirmée"
    assert refused["status"] == "refused" and rows[refused["message_id"]].error == "Marie Dupont opted out of SMS"
    assert "SMS to Marie Dupont not sent: they opted out" in texts


def test_sms_client_refuses_an_invalid_number(kit):
    # The kit's contact has phone "+155577" (too short for a real number).
    with pytest.raises(PermanentError, match="not a valid phone number"):
        kit.run("sms_client", {"text": "Hi"})


def test_email_client_attaches_the_invoice(kit, fr_deal):
    doc = kit.run("create_document", {}, deal_id=fr_deal)
    mail = kit.run("email_client", {"subject": "Facture {{ robots.inv.number }}", "body": "<p>Ci-joint.</p>",
                                    "attachments": ["{{ robots.inv.document_id }}"]},
                   deal_id=fr_deal, outputs_by_key={"inv": doc})
    with kit.runtime.sessions() as s:
        attached = s.scalars(select(EmailAttachment.document_id).where(
            EmailAttachment.email_id == mail["message_id"])).all()
        row = s.get(EmailMessage, mail["message_id"])
    assert attached == [doc["document_id"]] and row.to_address == "marie@dupont.example"
    with pytest.raises(PermanentError, match="not a document of this deal"):
        kit.run("email_client", {"subject": "S", "body": "B", "attachments": [str(doc["document_id"])]})


def test_payment_link_carries_the_line_items(kit, fr_deal):
    out = kit.run("create_payment_link", {}, deal_id=fr_deal)
    from kanban.models import Invoice

    with kit.runtime.sessions() as s:
        invoice = s.get(Invoice, out["invoice_id"])
    assert invoice.amount == 63000
    assert invoice.description == "Dupont order: Chaise × 4, Livraison × 1"


def test_stripe_checkout_gets_one_line_item_per_deal_line(kit, fr_deal):
    from urllib.parse import parse_qs

    from kanban.outbound import Http
    from kanban.payments import StripePayments
    from tests.fake_http import serve

    with serve(lambda seen: (200, {"id": "cs_9", "url": "https://pay.example/cs_9"})) as server:
        http = Http()
        kit.services = {**kit.runtime.extras["services"],
                        "payments": StripePayments(server.url, "sk", "http://testserver", http, pause=0.01)}
        kit.run("create_payment_link", {}, deal_id=fr_deal)
        http.close()
    form = {k: v[0] for k, v in parse_qs(server.requests[0].body.decode()).items()}
    assert form["line_items[0][price_data][product_data][name]"] == "Chaise × 4"
    assert form["line_items[0][price_data][unit_amount]"] == "60000"
    assert form["line_items[1][price_data][product_data][name]"] == "Livraison × 1"
    assert form["line_items[1][price_data][unit_amount]"] == "3000"
    assert form["line_items[1][quantity]"] == "1" and form["line_items[0][price_data][currency]"] == "eur"
