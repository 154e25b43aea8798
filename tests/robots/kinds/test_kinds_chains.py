"""Real kinds through the engine: chained outputs (chat id, payment URL), failures and the loop guard."""

from __future__ import annotations

from sqlalchemy import select

from kanban.models import ChatMember, ChatMessage, EmailMessage, Invoice, SmsMessage, TimelineEntry
from tests.conftest import make_user

RESPONSIBLE_AND_REPS = [{"type": "responsible"}, {"type": "role", "role": "rep"}]


def test_group_chat_members_and_message_chain(runtime, stages, add_robot, new_deal, move, runs, run_all, admin, rep):
    add_robot(stages["Qualified"], "chat", "create_group_chat",
              settings={"name": "{{ deal.title }} team", "members": RESPONSIBLE_AND_REPS})
    lawyer = make_user(runtime, "lawyer@example.com", "admin", "Lou Lawyer")
    add_robot(stages["Qualified"], "invite", "add_chat_members", after_previous=True,
              settings={"chat": "{{ robots.chat.chat_id }}", "members": [{"type": "user", "id": lawyer.id}]})
    add_robot(stages["Qualified"], "say", "send_chat_message", after_previous=True,
              settings={"chat": "{{ robots.chat.chat_id }}", "text": "Qualified: {{ deal.title }}"})
    deal_id = new_deal(title="Globex", responsible_id=admin.id)
    move(deal_id, stages["Qualified"])
    run_all()
    done = runs(deal_id)
    assert [(r.robot_key, r.status) for r in done] == [("chat", "done"), ("invite", "done"), ("say", "done")], \
        [(r.robot_key, r.status, r.error) for r in done]
    chat_id = done[0].outputs["chat_id"]
    assert done[1].outputs == {"added_user_ids": [lawyer.id]}
    with runtime.sessions() as s:
        members = set(s.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))
        message = s.get(ChatMessage, done[2].outputs["message_id"])
    assert members == {admin.id, rep.id, lawyer.id}
    assert (message.chat_id, message.text) == (chat_id, "Qualified: Globex")


def test_payment_link_feeds_email_and_sms(runtime, stages, add_robot, new_deal, move, runs, run_all, rep):
    add_robot(stages["Invoice"], "pay", "create_payment_link", settings={"description": "{{ deal.title }}"})
    add_robot(stages["Invoice"], "mail", "email_client", after_previous=True,
              settings={"subject": "Your invoice", "body": '<a href="{{ robots.pay.url }}">Pay {{ deal.amount }}</a>'})
    add_robot(stages["Invoice"], "text", "sms_employee", after_previous=True,
              settings={"text": "Invoice sent: {{ robots.pay.url }}"})
    deal_id = new_deal(title="Initech", amount=45000, responsible_id=rep.id,
                       contact={"name": "Peter", "email": "peter@initech.example"})
    move(deal_id, stages["Invoice"])
    run_all()
    done = runs(deal_id)
    assert [r.status for r in done] == ["done"] * 3, [(r.robot_key, r.status, r.error) for r in done]
    url = done[0].outputs["url"]
    with runtime.sessions() as s:
        invoice = s.get(Invoice, done[0].outputs["invoice_id"])
        mail = s.scalars(select(EmailMessage)).one()
        sms = s.scalars(select(SmsMessage)).one()
    assert invoice.url == url and invoice.amount == 45000 and invoice.run_id == done[0].id
    assert mail.links == [url] and mail.tracking_token == done[1].outputs["tracking_token"]
    assert "Pay 450.00" in mail.body_html and mail.run_id == done[1].id
    assert sms.text == f"Invoice sent: {url}" and sms.status == "logged"


def test_permanent_kind_error_fails_the_run_with_its_message(stages, add_robot, new_deal, move, runs, run_all):
    add_robot(stages["Proposal"], "mail", "email_client", settings={"subject": "s", "body": "b"})
    deal_id = new_deal(title="No contact")
    move(deal_id, stages["Proposal"])
    run_all()
    [run] = runs(deal_id)
    assert run.status == "failed" and "no email address" in run.error and run.attempts == 1


def test_change_stage_ping_pong_ends_blocked(runtime, stages, add_robot, new_deal, move, runs, run_all):
    add_robot(stages["Qualified"], "to_proposal", "change_stage", settings={"stage_id": stages["Proposal"]})
    add_robot(stages["Proposal"], "to_qualified", "change_stage", settings={"stage_id": stages["Qualified"]})
    deal_id = new_deal(title="Loop")
    move(deal_id, stages["Qualified"])
    run_all(timeout=30)
    statuses = [r.status for r in runs(deal_id)]
    assert statuses[-1] == "blocked" and set(statuses[:-1]) == {"done"}, statuses
    with runtime.sessions() as s:
        assert s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "loop_blocked")).all()
