"""Demo triggers on the demo pipeline: paid invoices move deals to "Paid", email engagement moves them on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kanban import demo
from kanban.i18n import N_
from triggers.config import create_trigger

# (stage name, trigger data)
DEMO_TRIGGERS = [
    (N_("Qualified"), {"kind": "email_opened", "name": N_("Client opened our email")}),
    (N_("Qualified"), {"kind": "inbound_webhook", "name": N_("Website form (rotate the secret to use it)")}),
    (N_("Proposal"), {"kind": "link_clicked", "name": N_("Client clicked a link in our email")}),
    (N_("Proposal"), {"kind": "field_changed", "name": N_("Proposal sent"),
                  "settings": {"field": "fields.proposal_sent", "value": "yes"}}),
    (N_("Paid"), {"kind": "invoice_paid", "name": N_("Invoice paid")}),
    (N_("Paid"), {"kind": "payment_received", "name": N_("Payment received online")}),
]


def seed_triggers(session: Session) -> None:
    """Add the demo triggers to the demo pipeline (called by kanban.demo after its data exists)."""
    demo.seed_stages(session, DEMO_TRIGGERS, create_trigger)


def install() -> None:
    """Register the seeder once per process."""
    demo.add_seed(seed_triggers)
