"""payment_received: a checkout session or payment link of the deal was paid."""

from __future__ import annotations

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register


@register
class PaymentReceived(TriggerKind):
    """Moves the deal when money arrives through a checkout or payment link (not a manual mark)."""

    kind = "payment_received"
    title = N_("Payment received")

    class Settings(KindSettings):
        """No settings: any checkout payment for the deal counts."""

    def describe(self, event: Occurrence) -> str:
        """E.g. "payment received for invoice #3"."""
        return _("payment received for invoice #%(id)s", id=event.data.get("invoice_id"))
