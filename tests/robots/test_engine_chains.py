"""Chains through the real kinds: group chat → members → message, payment link → client email with its URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kanban.models import Chat, ChatMember, ChatMessage, EmailMessage


def test_group_chat_chain_uses_the_chat_id_output(runtime, admin, rep, stages, add_robot, new_deal, runs,
                                                  run_all) -> None:
    add_robot(stages["New"], "chat", kind="create_group_chat",
              settings={"name": "Deal {{ deal.title }}", "members": [{"type": "user", "id": admin.id},
                                                                      {"type": "responsible"}]})
    add_robot(stages["New"], "invite", kind="add_chat_members", after_previous=True,
              settings={"chat": "{{ robots.chat.chat_id }}", "members": [{"type": "role", "role": "admin"}]})
    add_robot(stages["New"], "say", kind="send_chat_message", after_previous=True,
              settings={"chat": "{{ robots.chat.chat_id }}", "text": "Welcome to {{ deal.title }}",
                        "message_type": "important"})
    deal_id = new_deal(title="Globex", responsible_id=rep.id)
    run_all()
    chat_run, invite, say = runs(deal_id)
    assert [r.status for r in (chat_run, invite, say)] == ["done", "done", "done"], [r.error for r in runs(deal_id)]
    chat_id = chat_run.outputs["chat_id"]
    with runtime.sessions() as s:
        chat = s.get(Chat, chat_id)
        members = set(s.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))
        [message] = s.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id))
    assert chat.name == "Deal Globex" and chat.run_id == chat_run.id
    assert {admin.id, rep.id} <= members
    assert (message.text, message.message_type, message.run_id) == ("Welcome to Globex", "important", say.id)


def test_payment_link_url_reaches_the_client_email(runtime: Any, rep, stages, add_robot, new_deal, runs,
                                                   run_all) -> None:
    add_robot(stages["Invoice"], "pay", kind="create_payment_link", settings={})
    add_robot(stages["Invoice"], "mail", kind="email_client", after_previous=True,
              settings={"subject": "Invoice for {{ deal.title }}",
                        "body": "<p>{{ deal.title }}: pay {{ deal.amount }} {{ deal.currency }} here: "
                                "<a href=\"{{ robots.pay.url }}\">{{ robots.pay.url }}</a></p>"})
    deal_id = new_deal(stage_id=stages["Invoice"], title="Initech <3", amount=125000, currency="EUR",
                       responsible_id=rep.id, contact={"name": "Ann", "email": "ann@example.com"})
    run_all()
    pay, mail = runs(deal_id)
    assert (pay.status, mail.status) == ("done", "done"), (pay.error, mail.error)
    with runtime.sessions() as s:
        [email] = s.scalars(select(EmailMessage).where(EmailMessage.deal_id == deal_id))
    assert email.to_address == "ann@example.com" and email.subject == "Invoice for Initech <3"
    assert "1250.00 EUR" in email.body_html and pay.outputs["url"] in email.links
    assert "<p>Initech &lt;3: pay" in email.body_html  # HTML channel escapes values, the subject (text) does not
    assert mail.outputs["message_id"] == email.id
