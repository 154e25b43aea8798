"""Demo robots on the demo pipeline (one chain per stage, so every column shows what robots do), and the seeds'
example event automations (noCRM and Pipedrive)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, demo
from kanban.demo_commerce import COURIER_EMAIL
from kanban.i18n import N_, _, localized
from kanban.models import User
from robots import automations
from robots.config import create_robot
from robots.engine import execute_run
from robots.models import RobotRun

RESPONSIBLE = [{"type": "responsible"}]
ADMINS = [{"type": "role", "role": "admin"}]
MAX_ROUNDS = 20  # chains are a few robots long; a bound keeps a misbehaving chain from looping for ever

# (stage name, robot data) in list order; after_previous robots use the outputs of the one above.
DEMO_ROBOTS: list[tuple[str, dict[str, Any]]] = [
    (N_("New lead"), {"kind": "notify", "name": N_("Tell the responsible"), "settings": {
        "text": N_("New lead for you: {{ deal.title }} ({{ deal.amount }} {{ deal.currency }})"),
        "recipients": RESPONSIBLE}}),
    (N_("New lead"), {"kind": "add_comment", "name": N_("Follow-up reminder"),
                      "delay": {"type": "after", "seconds": 86400},
                  "settings": {"text": N_("A day in “New lead”: call {{ contact.name }} ({{ contact.phone }}).")}}),
    (N_("Qualified"), {"kind": "create_group_chat", "key": "chat", "name": N_("Deal room"), "settings": {
        "name": N_("Deal room: {{ deal.title }}"), "members": RESPONSIBLE + ADMINS}}),
    (N_("Qualified"), {"kind": "send_chat_message", "name": N_("Kick-off message"), "after_previous": True,
                       "settings": {
        "chat": "{{ robots.chat.chat_id }}", "message_type": "important",
        "text": N_("{{ deal.title }} is qualified ({{ deal.amount }} {{ deal.currency }}). "
                   "Contact: {{ contact.name }}.")}}),
    (N_("Proposal"), {"kind": "email_client", "name": N_("Send the proposal"), "settings": {
        "subject": N_("Our proposal for {{ contact.company }}"),
        "body": N_("<p>Hello {{ contact.name }},</p><p>Here is our proposal for {{ deal.title }}: "
                "<a href=\"https://example.com/proposal\">read it online</a>.</p>")}}),
    (N_("Invoice"), {"kind": "create_payment_link", "key": "pay", "name": N_("Payment link"), "settings": {}}),
    (N_("Invoice"), {"kind": "create_document", "key": "invoice", "name": N_("Create the PDF invoice"),
                 "after_previous": True, "settings": {"type": "invoice"}}),
    (N_("Invoice"), {"kind": "email_client", "name": N_("Email the invoice"), "after_previous": True, "settings": {
        "subject": N_("Invoice {{ robots.invoice.number }} for {{ deal.title }}"),
        "body": N_("<p>Hello {{ contact.name }},</p><p>Please find invoice {{ robots.invoice.number }} attached. "
                "You can pay {{ deal.amount }} {{ deal.currency }} here: "
                "<a href=\"{{ robots.pay.url }}\">pay online</a>.</p>"),
        "attachments": ["{{ robots.invoice.document_id }}"]}}),
    (N_("Invoice"), {"kind": "sms_employee", "name": N_("Text the responsible"), "after_previous": True, "settings": {
        "text": N_("Invoice sent for {{ deal.title }}: {{ robots.pay.url }}")}}),
    (N_("Paid"), {"kind": "add_comment", "name": N_("Thank-you note"), "settings": {
        "text": N_("Paid in full: {{ deal.amount }} {{ deal.currency }}. Thank {{ contact.name }}!")}}),
    (N_("Paid"), {"kind": "add_post", "name": N_("Celebrate in the feed"), "settings": {
        "title": N_("Won: {{ deal.title }}"),
        "text": N_("{{ responsible.name }} closed {{ deal.amount }} {{ deal.currency }}."),
        "tag": "won"}}),
    (N_("Paid"), {"kind": "notify_supervisor", "name": N_("Tell the supervisor"), "settings": {
        "text": N_("{{ responsible.name }} was paid for {{ deal.title }}.")}}),
    (N_("Lost"), {"kind": "add_tag", "name": N_("Tag for review"), "settings": {"tags": ["review-lost"]}}),
]


def delivery_robots(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """Bitrix24's courier example: read the buyer's delivery address, then notify the courier with it."""
    courier = session.scalars(select(User.id).where(User.email == COURIER_EMAIL)).first()
    if courier is None:
        return []
    return [
        (N_("Delivery"), {"kind": "get_requisites", "key": "req", "name": N_("Read the delivery address"), "settings": {
            "entity": "organization", "address_type": "delivery"}}),
        (N_("Delivery"), {"kind": "notify", "name": N_("Tell the courier"), "after_previous": True, "settings": {
            "text": N_("Deliver {{ deal.title }} to {{ robots.req.company_name }}, {{ robots.req.address }}"),
            "recipients": [{"type": "user", "id": courier}]}}),
    ]


def seed_robots(session: Session) -> None:
    """Add the demo robots to the demo pipeline (called by kanban.demo after its deals exist)."""
    demo.seed_stages(session, [*DEMO_ROBOTS, *delivery_robots(session)], create_robot)


# The seeds' examples: (automation, its actions). "{quote}" and "{users}" are filled in when seeding.
DEMO_AUTOMATIONS: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    ({"name": N_("Notify on new deals"), "event": "deal.created", "description": N_("noCRM: notify on lead created")},
     [{"kind": "notify", "settings": {"text": N_("New deal: {{ deal.title }}"), "recipients": RESPONSIBLE + ADMINS}}]),
    ({"name": N_("Notify on deleted deals"), "event": "deal.deleted",
      "description": N_("noCRM: notify on lead deleted")},
     [{"kind": "notify", "settings": {"text": N_("Deal deleted: {{ deal.title }}"), "recipients": ADMINS}}]),
    ({"name": N_("Round-robin new deals"), "event": "deal.created",
      "description": N_("noCRM / Pipedrive: assign new deals in turn"),
      "condition": {"all": [{"field": "responsible.id", "op": "empty"}]}},
     [{"kind": "change_responsible", "settings": {"users": "{users}", "mode": "round_robin"}}]),
    ({"name": N_("Upsell opportunity on won"), "event": "deal.status_changed",
      "description": N_("noCRM: tag when the status becomes won"), "condition": {"all": [
          {"field": "event.to", "op": "=", "value": "won"}]}},
     [{"kind": "add_tag", "settings": {"tags": ["Upsell opportunity"]}}]),
    ({"name": N_("Quote sent"), "event": "deal.stage_changed", "description": N_("noCRM: on entering the quote step, "
      "email the client and tag"), "condition": {"all": [{"field": "event.to", "op": "=", "value": "{quote}"}]}},
     [{"kind": "email_client", "settings": {"subject": N_("Your quote for {{ deal.title }}"),
                                            "body": N_("<p>Hello {{ contact.name }}, your quote is on its way.</p>")}},
      {"kind": "add_tag", "settings": {"tags": ["quote-sent"]}}]),
    ({"name": N_("Plan the follow-up call"), "event": "deal.stage_changed", "description": N_("noCRM / Pipedrive: plan "
      "the same follow-up activity after a deal moves to the quote step"),
      "condition": {"all": [{"field": "event.to", "op": "=", "value": "{quote}"}]}},
     [{"kind": "create_activity", "settings": {"type": "call",
                                              "subject": N_("Follow up on the quote for {{ deal.title }}"),
                                              "due": {"in_business_days": 2, "time": "10:00"},
                                              "assignee": {"type": "responsible"}}}]),
    ({"name": N_("Tell the sales manager"), "event": "deal.assigned",
      "description": N_("Pipedrive: notify the manager when a deal is assigned")},
     [{"kind": "notify_supervisor", "settings": {"text": N_("{{ responsible.name }} now owns {{ deal.title }}.")}}]),
]


def seed_automations(session: Session) -> None:
    """Add the example automations, owned by the demo admin (their quote step is the demo's Proposal stage)."""
    pipeline = demo.demo_pipeline(session)
    admin = session.scalars(select(User).where(User.email == demo.ADMIN_EMAIL)).first()
    if pipeline is None or admin is None:
        return
    quote = next((st.id for st in pipeline.stages if st.name == _("Proposal")), None)
    reps = list(session.scalars(select(User.id).where(User.role == "rep", User.active.is_(True)).order_by(User.id)))
    for data, actions in DEMO_AUTOMATIONS:
        data = json.loads(json.dumps(localized(data)).replace('"{quote}"', json.dumps(str(quote))))
        automation = automations.create_automation(session, data, owner_id=admin.id)
        for action in actions:
            body = json.loads(json.dumps(localized(action)).replace('"{users}"', json.dumps(reps or [admin.id])))
            automations.add_action(session, automation.id, body)


def settle(runtime: Any) -> None:
    """Execute the due robot runs in this process, oldest first, until none is due (a finished run releases
    the next of its chain); used by kanban.demo.play_history. Runs due later (delays) are left to the worker."""
    for _round in range(MAX_ROUNDS):
        with runtime.sessions() as session:
            due = list(session.scalars(select(RobotRun.id).where(
                RobotRun.status == "scheduled", RobotRun.due_at <= clock.now()).order_by(RobotRun.id)))
        if not due:
            return
        for run_id in due:
            execute_run(runtime, run_id)


def install() -> None:
    """Register the seeders and the settler once per process."""
    demo.add_seed(seed_robots)
    demo.add_seed(seed_automations)
    demo.add_settler(settle)
