"""Demo robots on the demo pipeline: one chain per stage, so every column shows what robots do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock, demo
from robots.config import create_robot
from robots.engine import execute_run
from robots.models import RobotRun

RESPONSIBLE = [{"type": "responsible"}]
ADMINS = [{"type": "role", "role": "admin"}]
MAX_ROUNDS = 20  # chains are a few robots long; a bound keeps a misbehaving chain from looping for ever

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
    ("Invoice", {"kind": "email_client", "name": "Email the invoice", "after_previous": True, "settings": {
        "subject": "Invoice for {{ deal.title }}",
        "body": "<p>Hello {{ contact.name }},</p><p>You can pay {{ deal.amount }} {{ deal.currency }} here: "
                "<a href=\"{{ robots.pay.url }}\">pay online</a>.</p>"}}),
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


def seed_robots(session: Session) -> None:
    """Add the demo robots to the demo pipeline (called by kanban.demo after its deals exist)."""
    demo.seed_stages(session, DEMO_ROBOTS, create_robot)


def settle(runtime: Any) -> None:
    """Execute the due robot runs in this process, oldest first, until none is due (a finished run releases
    the next of its chain); used by kanban.demo.play_history. Runs due later (delays) are left to the worker."""
    for _ in range(MAX_ROUNDS):
        with runtime.sessions() as session:
            due = list(session.scalars(select(RobotRun.id).where(
                RobotRun.status == "scheduled", RobotRun.due_at <= clock.now()).order_by(RobotRun.id)))
        if not due:
            return
        for run_id in due:
            execute_run(runtime, run_id)


def install() -> None:
    """Register the seeder and the settler once per process."""
    demo.add_seed(seed_robots)
    demo.add_settler(settle)
