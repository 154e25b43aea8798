"""Demo data of the payment group: our company's requisites, products, buyers' requisites, a Delivery stage."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import demo
from kanban.commerce import Product
from kanban.events import Actor
from kanban.i18n import N_, _
from kanban.models import Deal, Organization
from kanban.services.deals import move_deal
from kanban.services.pipelines import add_stage
from kanban.services.products import set_line_items
from kanban.services.requisites import COMPANY, save_requisite
from kanban.services.users import create_user

COURIER_EMAIL = "courier@demo.local"
SELLER = {"template": "fr_company",
          "fields": {"company_name": "Kanban Démo SAS", "siren": "732829320", "siret": "73282932000074",
                     "vat_number": "FR44732829320"},
          "addresses": {"legal": {"street": "12 rue de la Paix", "city": "Paris", "postal_code": "75002",
                                  "country": "FR"}},
          "bank": {"iban": "FR1420041010050500013M02606", "bic": "BNPAFRPP"}}
STREETS = [N_("Market Street"), N_("Harbor Road"), N_("Elm Avenue"), N_("King Street"), N_("Mill Lane")]
CITIES = [("Boston", "02108"), ("Chicago", "60601"), ("Denver", "80202"), ("Austin", "73301"), ("Seattle", "98101")]


def seed_commerce(session: Session) -> None:
    """Run by kanban.demo after its deals exist, before the robots' seeder (which uses the Delivery stage)."""
    pipeline = demo.demo_pipeline(session)
    invoice = next((s for s in pipeline.stages if s.name == _("Invoice")), None) if pipeline else None
    if pipeline is None or invoice is None:
        return
    add_stage(session, pipeline.id, _("Delivery"), invoice.position + 1)
    session.expire(pipeline, ["stages"])  # the later seeders look the new stage up by name
    create_user(session, email=COURIER_EMAIL, name="Casey Courier", role="rep", password=demo.REP_PASSWORD,
                phone="+1 555 0300", department="Sales West")
    save_requisite(session, *COMPANY, SELLER)
    for name, price in demo.PRODUCTS:
        session.add(Product(name=name, price=price, currency="USD", tax_bp=0, active=True))
    for i, org in enumerate(session.scalars(select(Organization).order_by(Organization.id))):
        city, postal = CITIES[i % len(CITIES)]
        address = {"street": f"{10 + i} {STREETS[i % len(STREETS)]}", "city": city, "postal_code": postal,
                   "country": "US"}
        save_requisite(session, "organization", org.id, {
            "template": "generic_company", "fields": {"company_name": f"{org.name} Inc."},
            "addresses": {"legal": address, "delivery": {**address, "street": f"Dock {i + 1}, {address['street']}"}}})
    stages = {s.name: s.id for s in pipeline.stages}
    invoiced = session.scalars(select(Deal).where(Deal.stage_id == stages[_("Invoice")]).order_by(Deal.id)).all()
    for deal in invoiced[:2]:  # a few deals are out for delivery (moved before the robots exist: none run)
        move_deal(session, deal.id, stages[_("Delivery")], actor=Actor.user(deal.responsible_id))
    selling = [stages[_("Proposal")], stages[_("Invoice")], stages[_("Delivery")]]
    for deal in session.scalars(select(Deal).where(Deal.stage_id.in_(selling))):
        # One line for what the title sells, at the deal's amount: the deal page shows products, the amount stays.
        product = deal.title.split(" — ", 1)[-1]
        set_line_items(session, deal.id, [{"name": product, "quantity": 1, "price": deal.amount}],
                       actor=Actor.user(deal.responsible_id))
    session.flush()


def install() -> None:
    """Register the seeder once per process."""
    demo.add_seed(seed_commerce)
