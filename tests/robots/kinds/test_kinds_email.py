"""email_employee and email_client: outbox rows (captured without SMTP), tracking, escaping, missing address."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from kanban.events import Actor
from kanban.models import EmailMessage, TimelineEntry
from kanban.services.deals import update_deal
from kanban.tracking import parse_click_token
from robots.errors import PermanentError


def _emails(kit):
    with kit.runtime.sessions() as s:
        return list(s.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def test_email_employee_goes_to_the_responsible_and_is_captured_without_smtp(kit, people):
    out = kit.run("email_employee", {"subject": "Deal {{ deal.title }}\r\nBcc: evil@x",
                                     "body": "Hi {{ responsible.name }}"})
    [mail] = _emails(kit)
    assert out == {"message_id": mail.id, "message_ids": [mail.id]}
    assert (mail.to_address, mail.kind, mail.status) == ("rep@example.com", "employee", "captured")
    assert mail.subject == "Deal Acme renewal Bcc: evil@x"  # line breaks folded: no header injection
    assert mail.body_text == "Hi Rex Rep" and mail.body_html is None
    assert mail.run_id == kit.last_run_id
    assert mail.from_address == f'"Butler (automation)" <{kit.runtime.settings.mail_from}>'  # quoted: RFC 5322


def test_email_employee_to_several_recipients(kit, people):
    out = kit.run("email_employee", {"subject": "s", "body": "b", "sender_id": people["boss"].id,
                                     "to": [{"type": "role", "role": "admin"}, {"type": "supervisor"}]})
    assert sorted(m.to_address for m in _emails(kit)) == ["admin@example.com", "boss@example.com"]
    assert len(out["message_ids"]) == 2
    assert {m.from_address for m in _emails(kit)} == {f"Bea Boss <{kit.runtime.settings.mail_from}>"}


def test_email_client_is_tracked_and_escapes_deal_values(kit, admin):
    with kit.runtime.sessions() as s, s.begin():
        update_deal(s, kit.deal_id, {"title": "<script>alert(1)</script> & Co"}, actor=Actor.user(admin.id))
    body = ('<p>Dear {{ contact.name }},</p><p>About {{ deal.title }}: '
            '<a href="https://shop.example/offer?id=1&amp;x=2">our offer</a></p>')
    out = kit.run("email_client", {"subject": "Offer for {{ deal.title }}", "body": body})
    [mail] = _emails(kit)
    assert out == {"message_id": mail.id, "tracking_token": mail.tracking_token}
    assert mail.to_address == "carla@client.example" and mail.kind == "client" and mail.status == "captured"
    assert mail.from_address == f"Rex Rep <{kit.runtime.settings.mail_from}>"  # the responsible, by default
    assert mail.subject == "Offer for <script>alert(1)</script> & Co"  # subject is plain text
    assert "<script>" not in mail.body_html and html.escape("<script>alert(1)</script> & Co") in mail.body_html
    assert mail.links == ["https://shop.example/offer?id=1&x=2"]
    assert "https://shop.example" not in mail.body_html  # the link now goes through the tracker
    assert f"http://testserver/t/o/{mail.tracking_token}.gif" in mail.body_html
    click = mail.body_html.split('href="http://testserver/t/c/', 1)[1].split('"', 1)[0]
    assert parse_click_token(kit.runtime.settings.secret, click) == (mail.tracking_token, 0)
    assert "About <script>alert(1)</script> & Co: our offer" in mail.body_text
    with kit.runtime.sessions() as s:
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "email")).one()
        assert "carla@client.example" in entry.text and entry.data["message_id"] == mail.id


def test_email_client_without_contact_email_fails_permanently(kit, admin):
    with kit.runtime.sessions() as s, s.begin():
        update_deal(s, kit.deal_id, {"contact": {"name": "No Mail"}}, actor=Actor.user(admin.id))
    with pytest.raises(PermanentError, match="no email address"):
        kit.run("email_client", {"subject": "s", "body": "<p>b</p>"})
    assert _emails(kit) == []


def test_email_client_text_part_keeps_tracked_link_urls(kit):
    body = '<p>You can pay here: <a href="https://pay.example/inv?id=7&amp;k=1">pay online</a>.</p>'
    kit.run("email_client", {"subject": "Invoice", "body": body})
    [mail] = _emails(kit)
    tracked = "http://testserver/t/c/" + mail.body_html.split('href="http://testserver/t/c/', 1)[1].split('"')[0]
    # The text part names the same tracked URL as the HTML part (a click on either is counted).
    assert f"You can pay here: pay online ({tracked})." in mail.body_text
    assert mail.links == ["https://pay.example/inv?id=7&k=1"]
