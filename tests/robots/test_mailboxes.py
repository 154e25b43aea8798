"""Connected mailboxes against a real Dovecot (IMAP) and a real SMTP server (aiosmtpd): a rep connects their
mailbox, an automation sends a templated email as that rep, the client's reply appears on the deal and fires
email.received; bad credentials are a 422 with the server's answer; passwords are never returned; a restart
fetches nothing twice; a mailbox that fails falls back to the company sender with the reason recorded."""

from __future__ import annotations

import imaplib
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from sqlalchemy import select

from kanban import mailboxes
from kanban.config import load_settings
from kanban.delivery import deliver_emails
from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.inbox import InboundEmail
from kanban.mailbox_models import UserMailbox
from kanban.models import Deal, EmailMessage, TimelineEntry
from kanban.outbound import BlockedAddressError
from kanban.services.deals import create_deal
from robots import automations
from robots.email_templates import create_template
from robots.models import RobotRun
from tests.conftest import csrf_of, login
from tests.fake_smtp import smtp_server
from tests.private_imap import DOVECOT, PrivateDovecot

IMAP_PASSWORD = "imap-pa%ss/word"  # characters that need quoting in a URL


@pytest.fixture
def dovecot() -> Iterator[PrivateDovecot]:
    if not shutil.which(DOVECOT):
        from tests.conftest import service_missing

        service_missing("dovecot (apt-get install dovecot-imapd)")
    server = PrivateDovecot(user="rex@sales.example", password=IMAP_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[Any]:
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def settings_overrides(smtp: Any) -> dict[str, Any]:
    # The company sender is the same test server (login "robot"); the mail servers listen on 127.0.0.1.
    return {"KANBAN_SMTP_URL": f"smtp://robot:s3cret@127.0.0.1:{smtp.port}", "KANBAN_MAILBOX_ALLOW_PRIVATE": "1",
            "KANBAN_IMAP_INTERVAL": "3600", "KANBAN_MAILBOX_KEY": "test-mailbox-key-0123456789abcdef"}


def _urls(smtp: Any, dovecot: PrivateDovecot, smtp_password: str = "s3cret",
          imap_password: str = IMAP_PASSWORD) -> dict[str, str]:
    from urllib.parse import quote

    return {"smtp_url": f"smtp://rex%40sales.example:{quote(smtp_password, safe='')}@127.0.0.1:{smtp.port}",
            "imap_url": f"imap://rex%40sales.example:{quote(imap_password, safe='')}@127.0.0.1:{dovecot.port}/INBOX"}


def _connect(rep_api: Any, smtp: Any, dovecot: PrivateDovecot) -> dict[str, Any]:
    response = rep_api.put("/api/v1/me/mailbox", json=_urls(smtp, dovecot))
    assert response.status_code == 200, response.text
    return response.json()


def _wait_delivered(runtime: Any, row_id: int) -> EmailMessage:
    """The background delivery loop sends queued rows; wait until this one is no longer pending."""
    deadline = time.monotonic() + 15
    while True:
        with runtime.sessions() as s:
            row = s.get(EmailMessage, row_id)
            if row.status not in ("queued", "sending") or time.monotonic() > deadline:
                return row
        time.sleep(0.05)


def _deal(runtime: Any, pipeline: Any, responsible_id: int, email: str = "carla@client.example") -> int:
    with runtime.sessions() as s, s.begin():
        return create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor("system"),
                           responsible_id=responsible_id, contact={"name": "Carla", "email": email}).id


def test_connect_shows_no_password_and_disconnects(runtime, rep_api, smtp, dovecot, rep):
    shown = _connect(rep_api, smtp, dovecot)
    text = str(shown) + rep_api.get("/api/v1/me/mailbox").text
    assert IMAP_PASSWORD not in text and "s3cret" not in text and "secret" not in text.replace("key_source", "")
    assert shown["connected"] and shown["address"] == "rex@sales.example"
    assert shown["smtp"] == {"host": "127.0.0.1", "port": smtp.port, "username": "rex@sales.example",
                             "security": "none"}
    assert shown["imap"]["folder"] == "INBOX" and shown["key_source"] == "KANBAN_MAILBOX_KEY"
    assert smtp.logins == ["rex@sales.example"]  # the SMTP login was really tried
    with runtime.sessions() as s:
        row = s.scalars(select(UserMailbox)).one()
        # Stored encrypted: neither password appears in the row, and the key opens it again.
        assert "s3cret" not in row.smtp_secret and "imap-pa" not in row.imap_secret
        assert mailboxes.decrypt(runtime.settings, row.imap_secret).startswith("imap://rex%40sales.example:imap-pa")
    with runtime.sessions() as s, s.begin():
        # An email still waiting to go out through the mailbox (a retry later) when it is disconnected.
        waiting = EmailMessage(kind="rep", from_address="Rex Rep <rex@sales.example>", to_address="c@x.example",
                               subject="Later", body_text="b", status="queued", mailbox_id=row.id,
                               next_attempt_at=datetime.now(UTC) + timedelta(hours=1))
        s.add(waiting)
    assert rep_api.delete("/api/v1/me/mailbox").status_code == 204
    with runtime.sessions() as s:
        waiting = s.get(EmailMessage, waiting.id)
        assert (waiting.mailbox_id, waiting.from_address) == (None, "Rex Rep <crm@localhost>")
        assert waiting.fallback_reason == "the mailbox rex@sales.example was disconnected"
    assert rep_api.get("/api/v1/me/mailbox").json() == {"connected": False, "key_source": "KANBAN_MAILBOX_KEY"}


def test_bad_credentials_are_a_422_with_the_servers_answer_and_store_nothing(runtime, rep_api, smtp, dovecot):
    bad_smtp = rep_api.put("/api/v1/me/mailbox", json=_urls(smtp, dovecot, smtp_password="wrong"))
    error = bad_smtp.json()["error"]
    assert bad_smtp.status_code == 422 and error["code"] == "mailbox_connection_failed"
    assert "535" in error["fields"]["smtp_url"] and "refused the login" in error["message"]
    bad_imap = rep_api.put("/api/v1/me/mailbox", json=_urls(smtp, dovecot, imap_password="wrong"))
    assert bad_imap.status_code == 422 and "AUTHENTICATIONFAILED" in bad_imap.json()["error"]["fields"]["imap_url"]
    no_folder = rep_api.put("/api/v1/me/mailbox", json={
        **_urls(smtp, dovecot), "imap_url": _urls(smtp, dovecot)["imap_url"].replace("/INBOX", "/Nowhere")})
    assert no_folder.status_code == 422 and "Nowhere" in no_folder.json()["error"]["fields"]["imap_url"]
    malformed = rep_api.put("/api/v1/me/mailbox", json={"smtp_url": "http://x", "imap_url": "imap://host-without-user"})
    assert malformed.status_code == 422 and set(malformed.json()["error"]["fields"]) == {"smtp_url", "imap_url"}
    with runtime.sessions() as s:
        assert s.scalars(select(UserMailbox)).first() is None


def test_private_servers_are_refused_and_production_needs_a_key(tmp_path):
    settings = load_settings(KANBAN_DATA_DIR=str(tmp_path), KANBAN_SECRET_KEY="k")
    with pytest.raises(BlockedAddressError):
        mailboxes.guard(settings, "127.0.0.1", 25)
    production = load_settings(DATABASE_URL="postgresql://db/crm", KANBAN_DATA_DIR=str(tmp_path))
    with pytest.raises(mailboxes.MailboxKeyMissingError, match="KANBAN_MAILBOX_KEY"):
        mailboxes.cipher(production)
    embedded = load_settings(KANBAN_DATA_DIR=str(tmp_path))
    assert mailboxes.key_source(embedded) == "embedded"
    assert mailboxes.decrypt(embedded, mailboxes.encrypt(embedded, "imap://u:p@h")) == "imap://u:p@h"
    rotated = load_settings(KANBAN_DATA_DIR=str(tmp_path), KANBAN_MAILBOX_KEY="new-key, old-key")
    old = mailboxes.encrypt(load_settings(KANBAN_DATA_DIR=str(tmp_path), KANBAN_MAILBOX_KEY="old-key"), "x")
    assert mailboxes.decrypt(rotated, old) == "x"


def test_an_automation_emails_as_the_rep_and_the_reply_comes_back(runtime, rep_api, smtp, dovecot, rep, admin,
                                                                 pipeline, test_kinds, run_all):
    _connect(rep_api, smtp, dovecot)
    with runtime.sessions() as s, s.begin():
        template = create_template(s, {"name": "Offer", "subject": "Offer for {{ deal.title }}",
                                       "body_html": "<p>Dear {{ contact.name }}, here it is.</p>"})
        sender = automations.create_automation(s, {"name": "Welcome", "event": "deal.created"}, owner_id=admin.id)
        automations.add_action(s, sender.id, {"kind": "email_client", "settings": {
            "template_id": template.id, "send_as": "responsible"}})
        replies = automations.create_automation(s, {"name": "Reply", "event": "email.received"}, owner_id=admin.id)
        automations.add_action(s, replies.id, {"kind": "test_echo", "settings": {"text": "{{ event.new.subject }}"}})
    deal_id = _deal(runtime, pipeline, rep.id)
    run_all()
    with runtime.sessions() as s:
        [run] = s.scalars(select(RobotRun).where(RobotRun.kind == "email_client"))
        assert run.status == "done", run.error
        row = s.get(EmailMessage, run.outputs["message_id"])
        assert row.mailbox_id is not None and row.fallback_reason is None
    sent = _wait_delivered(runtime, row.id)
    assert sent.status == "sent", sent.error
    [(envelope_from, rcpts, content)] = [m for m in smtp.messages if m[1] == ["carla@client.example"]]
    message = message_from_bytes(content, policy=policy.default)
    assert envelope_from == "rex@sales.example" and message["Subject"] == "Offer for Acme"
    assert message["From"].addresses[0].display_name == "Rex Rep" and "rex@sales.example" in smtp.logins

    # Carla answers from another address: the reply threads by In-Reply-To to the email we sent.
    reply = (f"From: Carla <carla.private@home.example>\r\nTo: rex@sales.example\r\nSubject: Re: Offer for Acme\r\n"
             f"Message-ID: <reply-1@home.example>\r\nIn-Reply-To: {message['Message-ID']}\r\n"
             f"References: {message['Message-ID']}\r\n\r\nYes please.\r\n").encode()
    unrelated = (b"From: Mum <mum@family.example>\r\nTo: rex@sales.example\r\nSubject: Sunday\r\n"
                 b"Message-ID: <sunday@family.example>\r\n\r\nLunch?\r\n")
    dovecot.append(reply)
    dovecot.append(unrelated)
    [mailbox_id] = _mailbox_ids(runtime)
    assert mailboxes.sync(runtime, mailbox_id) == 2
    run_all()
    with runtime.sessions() as s:
        stored = list(s.scalars(select(InboundEmail)))
        notes = [e.text for e in s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id,
                                                                       TimelineEntry.kind == "email"))]
        events = list(s.scalars(select(DomainEvent).where(DomainEvent.type == "email.received")))
        echoes = [r.outputs.get("text") for r in s.scalars(select(RobotRun).where(RobotRun.kind == "test_echo"))]
    # The rep's private mail stays out of the CRM; the reply is on the deal and fired the automation.
    assert [(e.subject, e.deal_ids, e.mailbox_id) for e in stored] == [("Re: Offer for Acme", [deal_id], mailbox_id)]
    assert "Email received: Re: Offer for Acme" in notes
    assert [(e.deal_id, e.entity_id) for e in events] == [(deal_id, stored[0].id)]
    assert echoes == ["Re: Offer for Acme"]

    # A restart (the state is in the database) fetches nothing again, and new mail still arrives.
    assert mailboxes.sync(runtime, mailbox_id) == 0
    dovecot.append(reply.replace(b"reply-1@", b"reply-2@"))
    assert mailboxes.sync(runtime, mailbox_id) == 1
    assert mailboxes.sync(runtime, mailbox_id) == 0


def login_page_ok(client: Any) -> bool:
    """An admin's My mailbox page renders (base.html rebinds `_` for admins' menus)."""
    page = client.get("/me/mailbox")
    return page.status_code == 200 and "Connect a mailbox" in page.text


def _mailbox_ids(runtime: Any) -> list[int]:
    with runtime.sessions() as s:
        return list(s.scalars(select(UserMailbox.id)))


def test_the_sent_folder_goes_on_the_timeline_without_firing_email_received(runtime, rep_api, smtp, dovecot, rep,
                                                                           admin, pipeline):
    _connect(rep_api, smtp, dovecot)
    deal_id = _deal(runtime, pipeline, rep.id)
    client = imaplib.IMAP4("127.0.0.1", dovecot.port)
    client.login(dovecot.user, dovecot.password)
    assert client.create("Sent")[0] == "OK"
    client.logout()
    dovecot.append(b"From: Rex <rex@sales.example>\r\nTo: Carla <carla@client.example>\r\nSubject: Call notes\r\n"
                   b"Message-ID: <notes@sales.example>\r\n\r\nAs discussed.\r\n", folder="Sent")
    [mailbox_id] = _mailbox_ids(runtime)
    assert mailboxes.sync(runtime, mailbox_id) == 1
    with runtime.sessions() as s:
        [stored] = s.scalars(select(InboundEmail))
        notes = [e.text for e in s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id,
                                                                       TimelineEntry.kind == "email"))]
        assert s.scalars(select(DomainEvent).where(DomainEvent.type == "email.received")).first() is None
    assert (stored.direction, stored.deal_ids) == ("out", [deal_id]) and notes == ["Email sent: Call notes"]
    assert mailboxes.sync(runtime, mailbox_id) == 0
    # The person's page lists it too (here as an admin: pages work whoever reads them).
    with runtime.sessions() as s:
        person_id = s.get(Deal, deal_id).person_id
    del rep_api.headers["Authorization"]
    login(rep_api, admin.email)
    page = rep_api.get(f"/persons/{person_id}")
    assert page.status_code == 200 and "Sent to carla@client.example" in page.text and "Call notes" in page.text
    assert login_page_ok(rep_api)


def test_without_a_mailbox_the_company_sends_and_says_why(runtime, rep_api, smtp, rep, admin, pipeline, run_all):
    with runtime.sessions() as s, s.begin():
        auto = automations.create_automation(s, {"name": "Owner", "event": "deal.created"}, owner_id=rep.id)
        automations.add_action(s, auto.id, {"kind": "email_client", "settings": {
            "subject": "Hello", "body": "<p>Hi</p>", "send_as": "owner"}})
    deal_id = _deal(runtime, pipeline, admin.id)
    run_all()
    with runtime.sessions() as s:
        [run] = s.scalars(select(RobotRun).where(RobotRun.kind == "email_client"))
        row = s.get(EmailMessage, run.outputs["message_id"])
        notes = [e.text for e in s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id,
                                                                       TimelineEntry.kind == "email"))]
    assert run.status == "done" and row.mailbox_id is None and "crm@localhost" in row.from_address
    assert row.fallback_reason == "Rex Rep has no connected mailbox"
    assert notes == ["Email “Hello” to carla@client.example — from the company address: Rex Rep has no connected "
                     "mailbox"]


def test_a_mailbox_failing_for_good_falls_back_to_the_company_sender(runtime, rep_api, smtp, dovecot, rep,
                                                                     pipeline):
    _connect(rep_api, smtp, dovecot)
    deal_id = _deal(runtime, pipeline, rep.id)
    # The rep changes the password at their provider after connecting: the stored login is refused (535).
    with runtime.sessions() as s, s.begin():
        row = s.scalars(select(UserMailbox)).one()
        row.smtp_secret = mailboxes.encrypt(runtime.settings, _urls(smtp, dovecot, smtp_password="old")["smtp_url"])
    login(rep_api, rep.email)
    assert "From: <strong>rex@sales.example</strong> (your mailbox)" in rep_api.get(f"/deals/{deal_id}").text
    sent = rep_api.post(f"/api/v1/deals/{deal_id}/emails", json={"subject": "Quote", "body": "See attached."})
    assert sent.status_code == 201 and sent.json()["from"] == "Rex Rep <rex@sales.example>"
    row = _wait_delivered(runtime, sent.json()["id"])
    assert row.status == "sent" and row.mailbox_id is None and row.from_address == "Rex Rep <crm@localhost>"
    assert "Rex Rep's mailbox failed: SMTP 535" in row.fallback_reason
    [(envelope_from, _rcpts, _content)] = smtp.messages
    assert envelope_from == "crm@localhost"  # exactly one copy went out, from the company sender
    with runtime.sessions() as s:
        notes = [e.text for e in s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id))]
        assert "SMTP 535" in s.scalars(select(UserMailbox)).one().last_error
    assert any(n.startswith("Email “Quote” goes out from the company address instead: Rex Rep's mailbox failed")
               for n in notes)
    assert deliver_emails(runtime.sessions, runtime.extras["services"]["mailer"]) == 0


def test_the_my_mailbox_page_connects_tests_and_disconnects(runtime, client, rep, smtp, dovecot):
    # The page takes one password for both servers: this Dovecot's user has the test SMTP server's password.
    shared = PrivateDovecot(user="rex@sales.example", password="s3cret")
    shared.start()
    try:
        login(client, rep.email)
        token = csrf_of(client, "/me/mailbox")
        form = {"csrf_token": token, "address": "rex@sales.example", "username": "rex@sales.example",
                "password": "wrong", "smtp_host": "127.0.0.1", "smtp_port": str(smtp.port),
                "smtp_security": "none", "imap_host": "127.0.0.1", "imap_port": str(shared.port),
                "imap_security": "none", "folder": "INBOX"}
        refused = client.post("/me/mailbox", data=form)
        assert refused.status_code == 422 and "refused the login: 535" in refused.text
        assert f'value="{shared.port}"' in refused.text and 'value="wrong"' not in refused.text
        done = client.post("/me/mailbox", data=form | {"password": "s3cret"}, follow_redirects=True)
        assert done.status_code == 200 and "Mailbox connected" in done.text and "s3cret" not in done.text
        assert "Connected: rex@sales.example" in done.text
        tested = client.post("/me/mailbox/test", data={"csrf_token": token}, follow_redirects=True)
        assert "Both logins work." in tested.text
        gone = client.post("/me/mailbox/delete", data={"csrf_token": token}, follow_redirects=True)
        assert "Mailbox disconnected" in gone.text and "Connect a mailbox" in gone.text
    finally:
        shared.stop()
