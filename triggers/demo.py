"""Demo triggers on the demo pipeline: paid invoices move deals to "Paid", email engagement moves them on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kanban import demo
from triggers.config import create_trigger

# (stage name, trigger data)
DEMO_TRIGGERS = [
    ("Qualified", {"kind": "email_opened", "name": "Client opened our email"}),
    ("Qualified", {"kind": "inbound_webhook", "name": "Website form (rotate the secret to use it)"}),
    ("Proposal", {"kind": "link_clicked", "name": "Client clicked a link in our email"}),
    ("Proposal", {"kind": "field_changed", "name": "Proposal sent",
                  "settings": {"field": "fields.proposal_sent", "value": "yes"}}),
    ("Paid", {"kind": "invoice_paid", "name": "Invoice paid"}),
    ("Paid", {"kind": "payment_received", "name": "Payment received online"}),
]


def seed_triggers(session: Session) -> None:
    """Add the demo triggers to the demo pipeline (called by kanban.demo after its data exists)."""
    demo.seed_stages(session, DEMO_TRIGGERS, create_trigger)


def install() -> None:
    """Register the seeder once per process."""
    demo.add_seed(seed_triggers)
