"""email_employee: an email to employees (default: the responsible), through the outbox."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import EmailMessage
from robots.context import RunContext
from robots.emailing import EmailContentSettings, render_content, resolve_sender
from robots.outside import service
from robots.recipients import Recipient, resolve
from robots.registry import RobotKind, register


class EmailEmployeeSettings(EmailContentSettings):
    to: list[Recipient] = Field(default_factory=lambda: [Recipient(type="responsible")], min_length=1,
                                description=N_("Employees to email (default: the responsible)"))
    body: str | None = Field(default=None, min_length=1, description=N_("Plain-text body (or choose a template)"))
    sender_id: int | None = Field(default=None, description=N_("Shown as the sender (default: the Butler)"))


@register
class EmailEmployee(RobotKind):
    """Email employees; delivered by SMTP when configured, otherwise kept in the dev mailbox."""

    kind = "email_employee"
    title = N_("Email an employee")
    category = "email_sms"
    Settings = EmailEmployeeSettings
    outputs = ("message_id", "message_ids")
    templates = {"subject": "text", "body": "text"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: EmailEmployeeSettings) -> dict[str, Any]:
        """One outbox row per recipient, carrying the run id; the delivery loop sends queued rows."""
        mailer = service(ctx, "mailer")
        sender = resolve_sender(ctx, settings.send_as, ctx.user(settings.sender_id, default="system"), mailer)
        content = render_content(ctx, settings, inline_html=False)
        rows = [EmailMessage(run_id=ctx.run_id, deal_id=ctx.deal_id, kind="employee",
                             from_address=sender.from_address, to_address=user.email, subject=content.subject,
                             body_html=content.html, body_text=content.text, status=sender.status,
                             created_at=ctx.now, mailbox_id=sender.mailbox_id,
                             fallback_reason=sender.fallback_reason)
                for user in resolve(ctx, settings.to)]
        ctx.session.add_all(rows)
        ctx.session.flush()
        if sender.fallback_reason:
            ctx.timeline("email", _("Email “%(subject)s” to employees went out from the company address: "
                                    "%(reason)s", subject=content.subject, reason=sender.fallback_reason),
                         message_id=rows[0].id, fallback_reason=sender.fallback_reason)
        return {"message_id": rows[0].id, "message_ids": [row.id for row in rows]}
