"""sms_employee: an SMS (at most 200 characters after rendering) to employees through the SMS provider."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import SmsMessage
from kanban.sms import SMS_LIMIT
from robots.context import RunContext
from robots.errors import PermanentError
from robots.outside import service
from robots.recipients import Recipient, resolve
from robots.registry import KindSettings, RobotKind, register


class SmsEmployeeSettings(KindSettings):
    to: list[Recipient] = Field(default_factory=lambda: [Recipient(type="responsible")], min_length=1,
                                description=N_("Employees to text (default: the responsible)"))
    text: str = Field(min_length=1, description=N_("Message, at most 200 characters after rendering"))


@register
class SmsEmployee(RobotKind):
    """Text employees; logged in the SMS outbox, or delivered by the configured HTTP provider."""

    kind = "sms_employee"
    title = N_("SMS an employee")
    category = "email_sms"
    Settings = SmsEmployeeSettings
    outputs = ("message_id", "message_ids")
    templates = {"text": "text"}
    output_types = {"message_id": "sms"}
    needs_deal = False  # also acts without a deal (robots.subjects)

    def run(self, ctx: RunContext, settings: SmsEmployeeSettings) -> dict[str, Any]:
        """One outbox row per recipient; too long a text or a missing phone number fails the run."""
        provider = service(ctx, "sms")
        text = ctx.render(settings.text).strip()
        if len(text) > SMS_LIMIT:
            raise PermanentError(_("the SMS is %(n_text)s characters after rendering (limit %(sms_limit)s)",
                                    n_text=len(text), sms_limit=SMS_LIMIT))
        users = resolve(ctx, settings.to)
        missing = [user.name for user in users if not user.phone]
        if missing:
            raise PermanentError(_("no phone number for %(missing)s", missing=', '.join(missing)))
        rows = [SmsMessage(run_id=ctx.run_id, deal_id=ctx.deal_id, user_id=user.id, to_phone=user.phone,
                           text=text, status=provider.initial_status(), provider=provider.name, created_at=ctx.now)
                for user in users]
        ctx.session.add_all(rows)
        ctx.session.flush()
        if not provider.delivers:
            for row in rows:
                row.provider_message_id = provider.send(row)
        ctx.timeline("sms", f"SMS to {', '.join(user.name for user in users)}", message_ids=[r.id for r in rows])
        return {"message_id": rows[0].id, "message_ids": [row.id for row in rows]}
