"""Registry of trigger kinds, keyed by the persisted `kind` string; one module per kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from kanban.registry import KindSettings, Registry, import_all

__all__ = ["KindSettings", "Occurrence", "Registry", "TriggerKind", "load_kinds", "register", "registry"]


@dataclass(frozen=True)
class Occurrence:
    """One outside event about a deal, as the kinds see it (plain values only)."""

    kind: str
    deal_id: int
    data: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None  # the InboundEvent row, when the event came from outside
    cause: tuple[dict[str, Any], ...] = ()


class TriggerKind:
    """A trigger kind: its settings shape, whether a configured trigger matches an event, and its wording."""

    kind: ClassVar[str]
    title: ClassVar[str]
    Settings: ClassVar[type[KindSettings]]
    # Whether each trigger of this kind gets its own URL and Standard Webhooks secret.
    has_secret: ClassVar[bool] = False

    def matches(self, trigger_id: int, settings: Any, event: Occurrence) -> bool:
        """True when a trigger with these (validated) settings reacts to this event."""
        return True

    def describe(self, event: Occurrence) -> str:
        """A short human phrase for the event, used on the timeline ("email opened")."""
        return self.title.lower()


registry: Registry[type[TriggerKind]] = Registry()


def register(cls: type[TriggerKind]) -> type[TriggerKind]:
    """Class decorator: add a kind to the registry under its persisted key."""
    registry.add(cls.kind, cls)
    return cls


def load_kinds() -> Registry[type[TriggerKind]]:
    """Import every module in triggers/kinds so each registers itself."""
    import_all("triggers.kinds")
    return registry
