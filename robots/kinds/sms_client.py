"""sms_client: an SMS to the deal's person, at their number in E.164; persons who opted out are not texted."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kanban.i18n import N_, _
from kanban.models import Person, SmsMessage
from kanban.phones import PhoneNumberError, deal_region, e164
from kanban.sms import SMS_LIMIT
from robots.context import RunContext
from robots.errors import PermanentError
from robots.outside import service
from robots.registry import KindSettings, RobotKind, register


class SmsClientSettings(KindSettings):
    text: str = Field(min_length=1, description=N_("Message, at most 200 characters after rendering"))


@register
class SmsClient(RobotKind):
    """Text the client, e.g. an order confirmation; an opt-out is respected and recorded in the SMS outbox."""

    kind = "sms_client"
    title = N_("SMS the client")
    category = "email_sms"
    Settings = SmsClientSettings
    outputs = ("message_id", "to_phone", "status")
    templates = {"text": "text"}
    output_types = {"message_id": "sms"}

    def run(self, ctx: RunContext, settings: SmsClientSettings) -> dict[str, Any]:
        """One outbox row: sent (or logged) to the E.164 number, or `refused` when the person opted out."""
        provider = service(ctx, "sms")
        deal = ctx.deal()
        person = ctx.session.get(Person, deal.person_id) if deal.person_id else None
        if person is None or not person.phone:
            raise PermanentError(_("the deal's person has no phone number"))
        try:
            phone = e164(person.phone, deal_region(ctx.session, deal, ctx.settings.phone_region))
        except PhoneNumberError as exc:
            raise PermanentError(str(exc)) from exc
        text = ctx.render(settings.text).strip()
        if len(text) > SMS_LIMIT:
            raise PermanentError(_("the SMS is %(n_text)s characters after rendering (limit %(sms_limit)s)",
                                    n_text=len(text), sms_limit=SMS_LIMIT))
        refused = person.sms_opt_out
        row = SmsMessage(run_id=ctx.run_id, deal_id=deal.id, to_phone=phone, text=text, provider=provider.name,
                         status="refused" if refused else provider.initial_status(), created_at=ctx.now,
                         error=f"{person.name} opted out of SMS" if refused else None)
        ctx.session.add(row)
        ctx.session.flush()
        if refused:
            ctx.timeline("sms", f"SMS to {person.name} not sent: they opted out", message_id=row.id)
        else:
            if not provider.delivers:
                row.provider_message_id = provider.send(row)
            ctx.timeline("sms", f"SMS to {person.name} ({phone})", message_id=row.id)
        return {"message_id": row.id, "to_phone": phone, "status": row.status}
