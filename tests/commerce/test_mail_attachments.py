"""Documents attached to an outbox email travel with it: delivery reads the PDFs and the MIME message has them."""

from __future__ import annotations

from kanban.delivery import deliver_emails
from kanban.events import Actor
from kanban.mail import Mailer
from kanban.models import EmailMessage
from kanban.services.documents import attach, attachments_of, create_document


class RecordingMailer:
    """A mailer that builds the MIME message as SMTP delivery would and keeps it."""

    def __init__(self) -> None:
        self.real = Mailer(None, "crm@example.com", "http://testserver")
        self.sent: list = []

    def send(self, row, attachments=()) -> None:
        self.sent.append(self.real.build(row, attachments))


def test_delivery_sends_the_attached_pdf(runtime, admin, buyer_deal):
    with runtime.sessions() as s, s.begin():
        doc = create_document(s, buyer_deal["deal_id"], "invoice", actor=Actor.user(admin.id), company_name="Us")
        row = EmailMessage(deal_id=buyer_deal["deal_id"], kind="client", from_address="crm@example.com",
                           to_address="marie@dupont.example", subject="Facture", body_html="<p>Ci-joint</p>",
                           body_text="Ci-joint", status="queued")
        s.add(row)
        s.flush()
        attach(s, row.id, buyer_deal["deal_id"], [str(doc.id)])
        number, pdf, email_id = doc.number, doc.pdf, row.id
    with runtime.sessions() as s:
        assert attachments_of(s, email_id) == [(f"invoice-{number}.pdf", pdf)]
    mailer = RecordingMailer()
    assert deliver_emails(runtime.sessions, mailer) == 1
    parts = [p for p in mailer.sent[0].iter_attachments()]
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [(f"invoice-{number}.pdf", "application/pdf")]
    assert parts[0].get_content() == pdf


def test_dev_mailbox_lists_the_attachment(client, admin, runtime, buyer_deal):
    from tests.conftest import login

    with runtime.sessions() as s, s.begin():
        doc = create_document(s, buyer_deal["deal_id"], "quote", actor=Actor.user(admin.id), company_name="Us")
        row = EmailMessage(deal_id=buyer_deal["deal_id"], kind="client", from_address="crm@example.com",
                           to_address="marie@dupont.example", subject="Devis", body_text="Ci-joint", status="captured")
        s.add(row)
        s.flush()
        attach(s, row.id, buyer_deal["deal_id"], [str(doc.id)])
        email_id, doc_id, number = row.id, doc.id, doc.number
    login(client, admin.email)
    page = client.get(f"/mailbox/{email_id}")
    assert f'href="/documents/{doc_id}.pdf">quote-{number}.pdf</a>' in page.text
