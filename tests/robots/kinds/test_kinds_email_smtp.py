"""With KANBAN_SMTP_URL set, robot emails are queued and the delivery loop hands them to a real SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from kanban.delivery import deliver_emails
from kanban.models import EmailMessage
from tests.fake_smtp import smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def settings_overrides(smtp):
    return {"KANBAN_SMTP_URL": f"smtp://robot:s3cret@127.0.0.1:{smtp.port}"}


def test_emails_are_queued_when_smtp_is_configured(kit):
    kit.run("email_employee", {"subject": "s", "body": "b"})
    kit.run("email_client", {"subject": "s", "body": "<p>b</p>"})
    assert any(fn.__name__ == "email_delivery_loop" for fn in kit.runtime.background)
    with kit.runtime.sessions() as s:
        assert [m.status for m in s.scalars(select(EmailMessage))] == ["queued", "queued"]


def test_robot_email_reaches_the_smtp_server(runtime, smtp, stages, add_robot, new_deal, move, runs, run_all, rep):
    add_robot(stages["Proposal"], "offer", "email_client",
              settings={"subject": "Offer for {{ deal.title }}",
                        "body": '<p>Hello {{ contact.name }}, <a href="https://shop.example/o">see it</a></p>'})
    deal_id = new_deal(title="Umbrella", responsible_id=rep.id,
                       contact={"name": "Alice <Ally>", "email": "alice@umbrella.example"})
    move(deal_id, stages["Proposal"])
    run_all()
    [run] = runs(deal_id)
    assert run.status == "done", run.error
    assert deliver_emails(runtime.sessions, runtime.extras["services"]["mailer"]) == 1
    [(sender, rcpts, content)] = smtp.messages
    message = message_from_bytes(content, policy=policy.default)
    assert rcpts == ["alice@umbrella.example"] and message["Subject"] == "Offer for Umbrella"
    assert message["From"].addresses[0].display_name == "Rex Rep"
    html = message.get_body(("html",)).get_content()
    assert "Hello Alice &lt;Ally&gt;" in html and f"/t/o/{run.outputs['tracking_token']}.gif" in html
    assert "https://shop.example/o" not in html and "http://testserver/t/c/" in html
    assert "Hello Alice <Ally>, see it" in message.get_body(("plain",)).get_content()
    with runtime.sessions() as s:
        assert s.get(EmailMessage, run.outputs["message_id"]).status == "sent"
