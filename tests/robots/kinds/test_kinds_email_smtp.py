"""With KANBAN_SMTP_URL set, robot emails are queued for the delivery loop instead of captured."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban.models import EmailMessage


@pytest.fixture
def settings_overrides():
    return {"KANBAN_SMTP_URL": "smtp://mailer:secret@127.0.0.1:2525?starttls=0"}


def test_emails_are_queued_when_smtp_is_configured(kit):
    kit.run("email_employee", {"subject": "s", "body": "b"})
    kit.run("email_client", {"subject": "s", "body": "<p>b</p>"})
    assert kit.runtime.background, "the email delivery loop is registered"
    with kit.runtime.sessions() as s:
        assert [m.status for m in s.scalars(select(EmailMessage))] == ["queued", "queued"]
