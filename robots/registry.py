"""Registry of robot kinds, keyed by the persisted `kind` string; one module per kind."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from robots.context import RunContext

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of handlers keyed by a persisted string, with a clear error for unknown keys."""

    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def add(self, key: str, item: T) -> None:
        if key in self._items and self._items[key] is not item:
            raise ValueError(f"kind {key!r} registered twice")
        self._items[key] = item

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"unknown kind {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def keys(self) -> list[str]:
        return sorted(self._items)


class KindSettings(BaseModel):
    """Base of every kind's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class RobotKind:
    """A robot kind: its settings shape, outputs, template fields and what it does."""

    kind: ClassVar[str]
    title: ClassVar[str]
    category: ClassVar[str]  # notify | communication | email_sms | payments | deal | integration
    Settings: ClassVar[type[KindSettings]]
    outputs: ClassVar[tuple[str, ...]] = ()
    # Settings fields that are templates, with the channel used to escape them ("text" or "html").
    # "fields.*" means every value of the dict-valued setting `fields`.
    templates: ClassVar[dict[str, str]] = {}
    # "db": every effect is a row written in the run's transaction (exactly once by construction);
    # "external": calls out (HTTP, provider) with the run id as idempotency key.
    effect: ClassVar[str] = "db"

    def run(self, ctx: RunContext, settings: Any) -> dict[str, Any]:
        """Do the robot's work inside the run's transaction and return its outputs."""
        raise NotImplementedError


registry: Registry[type[RobotKind]] = Registry()


def register(cls: type[RobotKind]) -> type[RobotKind]:
    """Class decorator: add a kind to the registry under its persisted key."""
    registry.add(cls.kind, cls)
    return cls


def load_kinds() -> Registry[type[RobotKind]]:
    """Import every module in robots/kinds so each registers itself."""
    import robots.kinds as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"robots.kinds.{module.name}")
    return registry
