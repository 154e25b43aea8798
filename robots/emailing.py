"""What the email kinds share: subject and body given inline or by a library template, and the sender mailbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from kanban.i18n import N_, _
from kanban.mail import Mailer, from_header, html_to_text, one_line
from kanban.mailboxes import mailbox_of
from kanban.models import User
from robots.context import RunContext
from robots.email_templates import EmailTemplate
from robots.errors import PermanentError
from robots.models import Automation, Robot
from robots.registry import KindSettings

SendAs = Literal["company", "responsible", "owner"]


class EmailContentSettings(KindSettings):
    """Either `subject` and `body`, or `template_id` of a library template; and which mailbox sends it."""

    subject: str | None = Field(default=None, min_length=1, description=N_("Subject (or choose a template)"))
    body: str | None = Field(default=None, min_length=1, description=N_("Body (or choose a template)"))
    template_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                    description=N_("Email template to send instead of subject and body"))
    send_as: SendAs = Field(default="company", description=N_("Mailbox it goes out from: the company's sender, the "
                            "responsible's or the owner's (the automation's owner, or the admin who last saved a "
                            "stage's robot) connected mailbox; without one, the company's sender"))

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


@dataclass(frozen=True)
class Sender:
    """Who an email goes out from: the From header, the connected mailbox sending it (None: the company's
    sender), the outbox status to start in, and why the company's sender is used when a mailbox was asked for."""

    from_address: str
    mailbox_id: int | None
    status: str
    fallback_reason: str | None = None


def resolve_sender(ctx: RunContext, send_as: str, shown: User, mailer: Mailer) -> Sender:
    """The sender for `send_as`: the company's address under `shown`'s name, or the responsible's / owner's
    connected mailbox; a user without one (or no such user) falls back to the company with the reason."""

    def company(reason: str | None = None) -> Sender:
        return Sender(from_header(shown.name, ctx.settings.mail_from), None, mailer.initial_status(), reason)

    if send_as == "company":
        return company()
    user, reason = _sending_user(ctx, send_as)
    if user is None:
        return company(reason)
    if not user.active:
        return company(_("%(name)s is deactivated", name=user.name))
    box = mailbox_of(ctx.session, user.id)
    if box is None:
        return company(_("%(name)s has no connected mailbox", name=user.name))
    return Sender(from_header(user.name, box.address), box.id, "queued")


def _sending_user(ctx: RunContext, send_as: str) -> tuple[User | None, str]:
    if send_as == "responsible":
        deal = ctx.deal()
        user = ctx.session.get(User, deal.responsible_id) if deal.responsible_id else None
        return user, _("the deal has no responsible")
    robot = ctx.session.get(Robot, ctx.robot_id)
    if robot is not None and robot.automation_id is not None:
        automation = ctx.session.get(Automation, robot.automation_id)
        owner_id = automation.owner_id if automation else None
        return (ctx.session.get(User, owner_id) if owner_id else None), _("the automation has no owner")
    owner_id = robot.saved_by_id if robot else None
    return (ctx.session.get(User, owner_id) if owner_id else None), _("nobody is recorded as this robot's owner "
                                                                        "(save it once to become its owner)")
