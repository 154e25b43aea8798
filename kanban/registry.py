"""Generic registry of handlers keyed by a persisted `kind` string, shared by robot and trigger kinds."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Generic, TypeVar

import pydantic
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
    """Base of every kind's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def settings_errors(exc: pydantic.ValidationError, prefix: str = "settings") -> dict[str, str]:
    """One message per settings path, e.g. {"settings.text": "required", "settings.bogus": "unknown setting"}."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"])
        errors.setdefault(f"{prefix}.{path}" if path else prefix, _message(err))
    return errors


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown setting"
    if err["type"] == "missing":
        return "required"
    return str(err["msg"])


def import_all(package_name: str) -> None:
    """Import every module of a package (e.g. "robots.kinds") so that each one registers itself."""
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package_name}.{module.name}")
