"""email_opened: the tracking pixel of an email_client message was loaded."""

from __future__ import annotations

from typing import Any

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register


@register
class EmailOpened(TriggerKind):
    """Moves the deal when its contact opens a tracked email; machine opens count only if asked."""

    kind = "email_opened"
    title = N_("Email opened")

    class Settings(KindSettings):
        """include_machine_opens: also react to opens right after sending (mail scanners, prefetch)."""

        include_machine_opens: bool = False

    def matches(self, trigger_id: int, settings: Any, event: Occurrence) -> bool:
        """Human opens always match; machine opens only with include_machine_opens."""
        return bool(settings.include_machine_opens) or not event.data.get("machine")

    def describe(self, event: Occurrence) -> str:
        """E.g. "email opened" or "email opened (machine open)"."""
        return _("email opened (machine open)") if event.data.get("machine") else _("email opened")
