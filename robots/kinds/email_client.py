"""email_client: an HTML email to the deal's person (its contact), with an open pixel and tracked links."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from kanban import company
from kanban.i18n import N_, _
from kanban.mail import html_to_text
from kanban.models import EmailMessage, Person
from kanban.services.documents import attach
from kanban.tracking import new_email_token, prepare_html
from robots.context import RunContext
from robots.emailing import EmailContentSettings, render_content, resolve_sender
from robots.errors import PermanentError, core_refusals
from robots.outside import service
from robots.registry import RobotKind, register
from robots.templating import use_locale


class EmailClientSettings(EmailContentSettings):
    body: str | None = Field(default=None, min_length=1,
                             description=N_("HTML body; deal values are escaped, links are tracked (or a template)"))
    subjects: dict[str, str] = Field(default_factory=dict, description=N_("Subject per language (en, fr, it)"))
    bodies: dict[str, str] = Field(default_factory=dict, description=N_("HTML body per language (en, fr, it): the "
                                   "client's language is sent, else the company's, else the body above"))
    sender_id: int | None = Field(default=None, description=N_("Shown as the sender (default: the responsible)"))
    attachments: list[str] = Field(default_factory=list, description=N_("Documents to attach: templates giving "
                                   "document ids, e.g. {{ robots.invoice.document_id }}"))

    @model_validator(mode="after")
    def _languages(self) -> EmailClientSettings:
        for name in ("subjects", "bodies"):
            for code, text in getattr(self, name).items():
                if code not in company.LANGUAGES:
                    raise PydanticCustomError("language", "{name}: “{code}” is not a language (en, fr or it)",
                                              {"name": name, "code": code})
                if not text.strip():
                    raise PydanticCustomError("language", "{name}: the {code} text is empty",
                                              {"name": name, "code": code})
        if self.template_id is not None:
            for code in set(self.subjects) ^ set(self.bodies):
                raise PydanticCustomError(
                    "language", "with a library template, give both the subject and the body in {code}",
                    {"code": code})
        return self


def language_of(person: Person | None) -> str | None:
    """A person's language as en|fr|it ("fr-CH" → "fr"), or None."""
    code = (person.language or "").strip().lower()[:2] if person is not None else ""
    return code if code in company.LANGUAGES else None


def for_language(settings: EmailClientSettings, language: str) -> EmailClientSettings:
    """The settings with the subject and body of `language` when it has its own (the default ones otherwise)."""
    if language not in settings.subjects and language not in settings.bodies:
        return settings
    changes: dict[str, Any] = {"subject": settings.subjects.get(language, settings.subject),
                               "body": settings.bodies.get(language, settings.body)}
    if settings.template_id is not None:
        changes["template_id"] = None  # both are given for the language (checked on save)
    return settings.model_copy(update=changes)


@register
class EmailClient(RobotKind):
    """Email the deal's contact; opens and clicks can fire triggers."""

    kind = "email_client"
    title = N_("Email the client")
    category = "email_sms"
    Settings = EmailClientSettings
    outputs = ("message_id", "tracking_token")
    templates = {"subject": "text", "body": "html", "attachments": "text", "subjects.*": "text", "bodies.*": "html"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: EmailClientSettings) -> dict[str, Any]:
        """One tracked outbox row for the contact's address, and an `email` timeline entry."""
        mailer = service(ctx, "mailer")
        person_id = ctx.person_id()  # the deal's contact, or (no deal) the event's person
        contact = ctx.session.get(Person, person_id) if person_id else None
        if contact is None or not contact.email:
            raise PermanentError(_("the deal's contact has no email address") if ctx.deal_id is not None
                                 else _("the event's person has no email address"))
        if settings.attachments and ctx.deal_id is None:
            raise PermanentError(_("attachments are documents of a deal, and this event has none"))
        # The client's language (else the company's) picks the body and the money/date filters' language.
        firm = company.settings(ctx.session).language
        client = language_of(contact)
        chosen = next((code for code in (client, firm) if code and (code in settings.subjects
                                                                      or code in settings.bodies)), None)
        with use_locale(client or firm):
            content = render_content(ctx, for_language(settings, chosen) if chosen else settings, inline_html=True)
        subject = content.subject
        token = new_email_token()
        tracked, links = prepare_html(content.html or "", secret=ctx.settings.secret,
                                      public_url=ctx.settings.public_url, email_token=token)
        # A text part made from the HTML is made again from the tracked HTML: links keep their (tracked) URLs.
        derived = content.text == html_to_text(content.html or "")
        text = html_to_text(tracked) if derived else content.text
        sender = resolve_sender(ctx, settings.send_as, ctx.user(settings.sender_id), mailer)
        row = EmailMessage(run_id=ctx.run_id, deal_id=ctx.deal_id, kind="client", from_address=sender.from_address,
                           to_address=contact.email, subject=subject, body_html=tracked,
                           body_text=text, status=sender.status, tracking_token=token,
                           links=links, created_at=ctx.now, mailbox_id=sender.mailbox_id,
                           fallback_reason=sender.fallback_reason)
        ctx.session.add(row)
        ctx.session.flush()
        with core_refusals(with_fields=False):
            attach(ctx.session, row.id, ctx.deal_id, [ctx.render(ref) for ref in settings.attachments])
        note = _("Email “%(subject)s” to %(to)s", subject=subject, to=contact.email)
        if sender.fallback_reason:
            note += " — " + _("from the company address: %(reason)s", reason=sender.fallback_reason)
        ctx.timeline("email", note, message_id=row.id, fallback_reason=sender.fallback_reason)
        return {"message_id": row.id, "tracking_token": token}
