"""What the email kinds share: subject and body given inline or by a library template, and the sender mailbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from kanban.i18n import N_, _
from kanban.mail import html_to_text, one_line
from robots.context import RunContext
from robots.email_templates import EmailTemplate
from robots.errors import PermanentError
from robots.registry import KindSettings

SendAs = Literal["company", "responsible", "owner"]


class EmailContentSettings(KindSettings):
    """Either `subject` and `body`, or `template_id` of a library template; and which mailbox sends it."""

    subject: str | None = Field(default=None, min_length=1, description=N_("Subject (or choose a template)"))
    body: str | None = Field(default=None, min_length=1, description=N_("Body (or choose a template)"))
    template_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                    description=N_("Email template to send instead of subject and body"))
    send_as: SendAs = Field(default="company", description=N_("Mailbox it goes out from: the company's sender"))

    @field_validator("send_as")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        # Per-user mailboxes (issue 16, part 2) are not connected yet: only the company sender can work.
        if value != "company":
            raise PydanticCustomError(
                "mailbox_required", "connect a mailbox first: sending as the {who} needs their connected mailbox; "
                "only “company” is available", {"who": "responsible" if value == "responsible" else "owner"})
        return value

    @model_validator(mode="after")
    def _one_source(self) -> EmailContentSettings:
        inline = self.subject is not None or self.body is not None
        if self.template_id is not None and inline:
            raise PydanticCustomError("source", "give either template_id or subject and body, not both")
        if self.template_id is None and (self.subject is None or self.body is None):
            raise PydanticCustomError("source", "give subject and body, or template_id")
        return self


@dataclass(frozen=True)
class Content:
    """A rendered email: one-line subject, HTML body (None for plain-text emails) and the text body."""

    subject: str
    html: str | None
    text: str


def render_content(ctx: RunContext, settings: EmailContentSettings, *, inline_html: bool) -> Content:
    """Render the template or the inline subject and body with the deal's values (HTML values escaped)."""
    if settings.template_id is not None:
        template = ctx.session.get(EmailTemplate, settings.template_id)
        if template is None:
            raise PermanentError(_("email template %(template_id)s no longer exists", template_id=settings.template_id))
        return render_template(ctx.render, template)
    subject = one_line(ctx.render(settings.subject or ""))
    if inline_html:
        html = ctx.render(settings.body or "", "html")
        return Content(subject, html, html_to_text(html))
    return Content(subject, None, ctx.render(settings.body or ""))


def render_template(render: Callable[[str, str], str], template: EmailTemplate) -> Content:
    """A library template rendered by `render(text, channel)`; the text body falls back to the HTML's text."""
    html = render(template.body_html, "html")
    text = render(template.body_text, "text") if template.body_text else html_to_text(html)
    return Content(one_line(render(template.subject, "text")), html, text)
