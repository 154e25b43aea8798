"""Registry of trigger kinds, keyed by the persisted `kind` string; one module per kind."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of handlers keyed by a persisted string, with a clear error for unknown keys."""

    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def add(self, key: str, item: T) -> None:
        """Register an item; registering a different item under the same key is an error."""
        if key in self._items and self._items[key] is not item:
            raise ValueError(f"kind {key!r} registered twice")
        self._items[key] = item

    def get(self, key: str) -> T:
        """The item for a key, or KeyError naming the unknown kind."""
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"unknown kind {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def items(self) -> list[tuple[str, T]]:
        """(key, item) pairs sorted by key."""
        return sorted(self._items.items())

    def keys(self) -> list[str]:
        """Registered keys, sorted."""
        return sorted(self._items)


class KindSettings(BaseModel):
    """Base of every trigger kind's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


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
    import triggers.kinds as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"triggers.kinds.{module.name}")
    return registry
