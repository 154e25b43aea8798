"""email_client: an HTML email to the deal's person (its contact), with an open pixel and tracked links."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.mail import from_header, html_to_text
from kanban.models import EmailMessage, Person
from kanban.services.documents import attach
from kanban.tracking import new_email_token, prepare_html
from robots.context import RunContext
from robots.emailing import EmailContentSettings, render_content
from robots.errors import PermanentError, core_refusals
from robots.outside import service
from robots.registry import RobotKind, register


class EmailClientSettings(EmailContentSettings):
    body: str | None = Field(default=None, min_length=1,
                             description=N_("HTML body; deal values are escaped, links are tracked (or a template)"))
    sender_id: int | None = Field(default=None, description=N_("Shown as the sender (default: the responsible)"))
    attachments: list[str] = Field(default_factory=list, description=N_("Documents to attach: templates giving "
                                   "document ids, e.g. {{ robots.invoice.document_id }}"))


@register
class EmailClient(RobotKind):
    """Email the deal's contact; opens and clicks can fire triggers."""

    kind = "email_client"
    title = N_("Email the client")
    category = "email_sms"
    Settings = EmailClientSettings
    outputs = ("message_id", "tracking_token")
    templates = {"subject": "text", "body": "html", "attachments": "text"}

    def run(self, ctx: RunContext, settings: EmailClientSettings) -> dict[str, Any]:
        """One tracked outbox row for the contact's address, and an `email` timeline entry."""
        mailer = service(ctx, "mailer")
        deal = ctx.deal()
        contact = ctx.session.get(Person, deal.person_id) if deal.person_id else None
        if contact is None or not contact.email:
            raise PermanentError(_("the deal's contact has no email address"))
        content = render_content(ctx, settings, inline_html=True)
        subject = content.subject
        token = new_email_token()
        tracked, links = prepare_html(content.html or "", secret=ctx.settings.secret,
                                      public_url=ctx.settings.public_url, email_token=token)
        # A text part made from the HTML is made again from the tracked HTML: links keep their (tracked) URLs.
        derived = content.text == html_to_text(content.html or "")
        text = html_to_text(tracked) if derived else content.text
        sender = from_header(ctx.user(settings.sender_id).name, ctx.settings.mail_from)
        row = EmailMessage(run_id=ctx.run_id, deal_id=deal.id, kind="client", from_address=sender,
                           to_address=contact.email, subject=subject, body_html=tracked,
                           body_text=text, status=mailer.initial_status(), tracking_token=token,
                           links=links, created_at=ctx.now)
        ctx.session.add(row)
        ctx.session.flush()
        with core_refusals(with_fields=False):
            attach(ctx.session, row.id, deal.id, [ctx.render(ref) for ref in settings.attachments])
        ctx.timeline("email", f"Email “{subject}” to {contact.email}", message_id=row.id)
        return {"message_id": row.id, "tracking_token": token}
