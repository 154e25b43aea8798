"""inbound_webhook: an outside system called this trigger's own signed URL with a deal id."""

from __future__ import annotations

from typing import Any

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register


@register
class InboundWebhook(TriggerKind):
    """Moves the named deal to this trigger's stage; each trigger has its URL and Standard Webhooks secret."""

    kind = "inbound_webhook"
    title = N_("Inbound webhook")
    has_secret = True

    class Settings(KindSettings):
        """No settings: the response to creating the trigger carries its url and secret."""

    def matches(self, trigger_id: int, settings: Any, event: Occurrence) -> bool:
        """Only the trigger whose URL was called."""
        return event.data.get("trigger_id") == trigger_id

    def describe(self, event: Occurrence) -> str:
        """E.g. "inbound webhook msg_123"."""
        return _("inbound webhook %(id)s", id=event.data.get("webhook_id", "")).strip()
