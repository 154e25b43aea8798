"""field_changed: a chosen deal field changed (optionally to a given value) via UI, API or a robot."""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator

from kanban.i18n import N_, _
from triggers.registry import KindSettings, Occurrence, TriggerKind, register

CORE = ("title", "amount", "currency", "responsible_id", "tags", "contact")
_CUSTOM = re.compile(r"^fields\.[A-Za-z0-9_\-]{1,64}$")


@register
class FieldChanged(TriggerKind):
    """Moves the deal when `field` changes, or only when it changes to `value`."""

    kind = "field_changed"
    title = N_("Field changed")

    class Settings(KindSettings):
        """field: title, amount, currency, responsible_id, tags, contact or fields.<name>; value: optional."""

        field: str
        value: Any = None

        @field_validator("field")
        @classmethod
        def _known_field(cls, value: str) -> str:
            value = value.strip()
            if value not in CORE and not _CUSTOM.match(value):
                raise ValueError(f"unknown field; use one of {', '.join(CORE)} or fields.<name>")
            return value

    def matches(self, trigger_id: int, settings: Any, event: Occurrence) -> bool:
        """The watched field is among the changes and, when a value is set, changed to it."""
        changes = event.data.get("changes", {})
        if settings.field not in changes:
            return False
        if settings.value is None:
            return True
        new = changes[settings.field][1]
        return new == settings.value or str(new) == str(settings.value)

    def describe(self, event: Occurrence) -> str:
        """E.g. "field changed: amount"."""
        return _("field changed: %(fields)s", fields=", ".join(sorted(event.data.get("changes", {}))))
