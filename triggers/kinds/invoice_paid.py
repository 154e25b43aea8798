"""invoice_paid: the deal's invoice became paid (provider webhook, pay page or manual "mark paid")."""

from __future__ import annotations

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register


@register
class InvoicePaid(TriggerKind):
    """Moves the deal when one of its invoices is paid, whatever the channel."""

    kind = "invoice_paid"
    title = N_("Invoice paid")

    class Settings(KindSettings):
        """No settings: every paid invoice of the deal counts."""

    def describe(self, event: Occurrence) -> str:
        """E.g. "invoice #3 paid"."""
        return _("invoice #%(id)s paid", id=event.data.get("invoice_id"))
