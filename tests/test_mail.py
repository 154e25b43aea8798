"""SMTP delivery of the email outbox against a real aiosmtpd server: success, refusals, retries, leases."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from kanban import clock
from kanban.delivery import MAX_ATTEMPTS, claim, deliver_emails
from kanban.mail import Mailer, SmtpConfig, html_to_text
from kanban.models import EmailMessage
from tests.fake_smtp import Inbox, free_port, smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def settings_overrides(smtp):
    return {"KANBAN_SMTP_URL": f"smtp://robot%40crm:s3cret@127.0.0.1:{smtp.port}",
            "KANBAN_MAIL_FROM": "crm@example.com"}


def _queue(runtime, to="carla@client.example", **extra):
    with runtime.sessions() as s, s.begin():
        row = EmailMessage(from_address="crm@example.com", to_address=to, subject="Your offer",
                           body_text="Hello", body_html="<p>Hello <b>Carla</b></p>", status="queued", **extra)
        s.add(row)
        s.flush()
        return row.id


def _row(runtime, row_id):
    with runtime.sessions() as s:
        return s.get(EmailMessage, row_id)


def test_smtp_url_parsing():
    cfg = SmtpConfig.parse("smtp://user%40x:p%3Ass@mail.example:2525?starttls=1&timeout=5")
    assert (cfg.host, cfg.port, cfg.username, cfg.password, cfg.starttls, cfg.tls, cfg.timeout) == \
        ("mail.example", 2525, "user@x", "p:ss", True, False, 5.0)
    assert SmtpConfig.parse("smtps://mail.example").port == 465
    with pytest.raises(ValueError):
        SmtpConfig.parse("http://mail.example")
    assert Mailer(None, "a@b", "http://x").initial_status() == "captured"


def test_queued_email_is_delivered_with_login(runtime, smtp):
    mailer = runtime.extras["services"]["mailer"]
    row_id = _queue(runtime)
    assert deliver_emails(runtime.sessions, mailer) == 1
    row = _row(runtime, row_id)
    assert (row.status, row.attempts, row.error) == ("sent", 1, None) and row.sent_at is not None
    [(sender, rcpts, content)] = smtp.messages
    assert sender == "crm@example.com" and rcpts == ["carla@client.example"] and smtp.logins == ["robot@crm"]
    parsed = message_from_bytes(content, policy=policy.default)
    assert parsed["Subject"] == "Your offer" and parsed["Message-ID"] == f"<outbox-{row_id}@testserver>"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hello <b>Carla</b></p>"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hello"
    assert deliver_emails(runtime.sessions, mailer) == 0  # nothing left: sent rows are never sent again


def test_permanent_refusal_fails_at_once(runtime, smtp):
    row_id = _queue(runtime, to="gone@client.example")
    deliver_emails(runtime.sessions, runtime.extras["services"]["mailer"])
    row = _row(runtime, row_id)
    assert row.status == "failed" and "550" in row.error and smtp.messages == []


def test_temporary_refusal_is_retried_with_backoff_then_fails(runtime, smtp):
    mailer = runtime.extras["services"]["mailer"]
    row_id = _queue(runtime, to="busy@client.example")
    deliver_emails(runtime.sessions, mailer)
    row = _row(runtime, row_id)
    assert (row.status, row.attempts) == ("queued", 1) and "451" in row.error
    assert row.next_attempt_at > clock.now() + timedelta(seconds=5)
    assert deliver_emails(runtime.sessions, mailer) == 0  # not due yet
    for attempt in range(2, MAX_ATTEMPTS + 1):
        with runtime.sessions() as s, s.begin():
            s.get(EmailMessage, row_id).next_attempt_at = clock.now() - timedelta(seconds=1)
        assert deliver_emails(runtime.sessions, mailer) == 1
        assert _row(runtime, row_id).attempts == attempt
    assert _row(runtime, row_id).status == "failed"


def test_unreachable_server_is_transient(runtime, smtp):
    mailer = Mailer("smtp://127.0.0.1:1?timeout=2", "crm@example.com", "http://testserver")
    row_id = _queue(runtime)
    deliver_emails(runtime.sessions, mailer)
    row = _row(runtime, row_id)
    assert row.status == "queued" and "connection failed" in row.error


def test_claims_are_exclusive_and_lost_leases_come_back(runtime, smtp):
    first = _queue(runtime)
    assert claim(runtime.sessions, EmailMessage) == [(first, 1)]
    assert claim(runtime.sessions, EmailMessage) == []  # leased: nobody else takes it
    with runtime.sessions() as s, s.begin():  # the sender died: its lease runs out
        s.get(EmailMessage, first).next_attempt_at = clock.now() - timedelta(seconds=1)
    assert claim(runtime.sessions, EmailMessage) == [(first, 2)]


def test_captured_rows_are_never_sent(runtime, smtp):
    row_id = _queue(runtime)
    with runtime.sessions() as s, s.begin():
        s.get(EmailMessage, row_id).status = "captured"
    assert deliver_emails(runtime.sessions, runtime.extras["services"]["mailer"]) == 0


def test_background_loop_delivers(runtime, smtp):
    [loop] = [fn for fn in runtime.background if fn.__name__ == "email_delivery_loop"]
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(stop,), daemon=True)
    thread.start()
    try:
        row_id = _queue(runtime)
        deadline = time.monotonic() + 10
        while _row(runtime, row_id).status != "sent" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(5)
    assert _row(runtime, row_id).status == "sent" and len(smtp.messages) == 1


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_starttls_then_login(runtime, tls_files, monkeypatch):
    import ssl

    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the mailer verifies the server against this CA
    inbox = Inbox()
    port = free_port()
    # auth_require_tls (the default): the login below only works after STARTTLS succeeded.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            tls_context=server_tls, require_starttls=True)
    controller.start()
    try:
        row_id = _queue(runtime)
        plain = Mailer(f"smtp://robot:s3cret@127.0.0.1:{port}", "crm@example.com", "http://testserver")
        deliver_emails(runtime.sessions, plain)
        refused = _row(runtime, row_id)
        assert refused.status != "sent" and inbox.messages == [], refused.error
        print("REFUSED", refused.status, refused.error)  # the server insists on TLS
        row_id = _queue(runtime)
        mailer = Mailer(f"smtp://robot:s3cret@127.0.0.1:{port}?starttls=1", "crm@example.com", "http://testserver")
        deliver_emails(runtime.sessions, mailer)
        assert _row(runtime, row_id).status == "sent" and inbox.logins == ["robot"] and len(inbox.messages) == 1
    finally:
        controller.stop()


def test_concurrent_senders_deliver_each_email_once(runtime, smtp):
    mailer = runtime.extras["services"]["mailer"]
    ids = [_queue(runtime, to=f"client{n}@client.example") for n in range(24)]
    workers = [threading.Thread(target=lambda: [deliver_emails(runtime.sessions, mailer, limit=3) for _ in range(8)])
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    deliver_emails(runtime.sessions, mailer)  # whatever the three left
    recipients = sorted(rcpt for _, rcpts, _ in smtp.messages for rcpt in rcpts)
    assert recipients == sorted(f"client{n}@client.example" for n in range(24))
    assert {(_row(runtime, i).status, _row(runtime, i).attempts) for i in ids} == {("sent", 1)}


def test_html_to_text_keeps_link_urls():
    body = ('<p>Pay <a class="x" href="https://pay.example/p?a=1&amp;b=2"><b>online</b></a>.</p>'
            '<p><a href="https://site.example/">https://site.example/</a></p>')
    assert html_to_text(body) == "Pay online (https://pay.example/p?a=1&b=2).\nhttps://site.example/"
