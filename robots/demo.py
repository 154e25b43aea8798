"""Demo robots on the demo pipeline: one chain per stage, so every column shows what robots do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import demo
from kanban.demo_commerce import COURIER_EMAIL
from kanban.models import User
from robots.config import create_robot

RESPONSIBLE = [{"type": "responsible"}]
ADMINS = [{"type": "role", "role": "admin"}]

# (stage name, robot data) in list order; after_previous robots use the outputs of the one above.
DEMO_ROBOTS: list[tuple[str, dict[str, Any]]] = [
    ("New lead", {"kind": "notify", "name": "Tell the responsible", "settings": {
        "text": "New lead for you: {{ deal.title }} ({{ deal.amount }} {{ deal.currency }})",
        "recipients": RESPONSIBLE}}),
    ("New lead", {"kind": "add_comment", "name": "Follow-up reminder", "delay": {"type": "after", "seconds": 86400},
                  "settings": {"text": "A day in “New lead”: call {{ contact.name }} ({{ contact.phone }})."}}),
    ("Qualified", {"kind": "create_group_chat", "key": "chat", "name": "Deal room", "settings": {
        "name": "Deal room: {{ deal.title }}", "members": RESPONSIBLE + ADMINS}}),
    ("Qualified", {"kind": "send_chat_message", "name": "Kick-off message", "after_previous": True, "settings": {
        "chat": "{{ robots.chat.chat_id }}", "message_type": "important",
        "text": "{{ deal.title }} is qualified ({{ deal.amount }} {{ deal.currency }}). "
                "Contact: {{ contact.name }}."}}),
    ("Proposal", {"kind": "email_client", "name": "Send the proposal", "settings": {
        "subject": "Our proposal for {{ contact.company }}",
        "body": "<p>Hello {{ contact.name }},</p><p>Here is our proposal for {{ deal.title }}: "
                "<a href=\"https://example.com/proposal\">read it online</a>.</p>"}}),
    ("Invoice", {"kind": "create_payment_link", "key": "pay", "name": "Payment link", "settings": {}}),
    ("Invoice", {"kind": "create_document", "key": "invoice", "name": "Create the PDF invoice",
                 "after_previous": True, "settings": {"type": "invoice"}}),
    ("Invoice", {"kind": "email_client", "name": "Email the invoice", "after_previous": True, "settings": {
        "subject": "Invoice {{ robots.invoice.number }} for {{ deal.title }}",
        "body": "<p>Hello {{ contact.name }},</p><p>Please find invoice {{ robots.invoice.number }} attached. "
                "You can pay {{ deal.amount }} {{ deal.currency }} here: "
                "<a href=\"{{ robots.pay.url }}\">pay online</a>.</p>",
        "attachments": ["{{ robots.invoice.document_id }}"]}}),
    ("Invoice", {"kind": "sms_employee", "name": "Text the responsible", "after_previous": True, "settings": {
        "text": "Invoice sent for {{ deal.title }}: {{ robots.pay.url }}"}}),
    ("Paid", {"kind": "add_comment", "name": "Thank-you note", "settings": {
        "text": "Paid in full: {{ deal.amount }} {{ deal.currency }}. Thank {{ contact.name }}!"}}),
    ("Paid", {"kind": "add_post", "name": "Celebrate in the feed", "settings": {
        "title": "Won: {{ deal.title }}",
        "text": "{{ responsible.name }} closed {{ deal.amount }} {{ deal.currency }}.",
        "tag": "won"}}),
    ("Paid", {"kind": "notify_supervisor", "name": "Tell the supervisor", "settings": {
        "text": "{{ responsible.name }} was paid for {{ deal.title }}."}}),
    ("Lost", {"kind": "add_tag", "name": "Tag for review", "settings": {"tags": ["review-lost"]}}),
]


def delivery_robots(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """Bitrix24's courier example: read the buyer's delivery address, then notify the courier with it."""
    courier = session.scalars(select(User.id).where(User.email == COURIER_EMAIL)).first()
    if courier is None:
        return []
    return [
        ("Delivery", {"kind": "get_requisites", "key": "req", "name": "Read the delivery address", "settings": {
            "entity": "organization", "address_type": "delivery"}}),
        ("Delivery", {"kind": "notify", "name": "Tell the courier", "after_previous": True, "settings": {
            "text": "Deliver {{ deal.title }} to {{ robots.req.company_name }}, {{ robots.req.address }}",
            "recipients": [{"type": "user", "id": courier}]}}),
    ]


def seed_robots(session: Session) -> None:
    """Add the demo robots to the demo pipeline (called by kanban.demo after its deals exist)."""
    demo.seed_stages(session, [*DEMO_ROBOTS, *delivery_robots(session)], create_robot)


def install() -> None:
    """Register the seeder once per process."""
    demo.add_seed(seed_robots)
