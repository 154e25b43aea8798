"""The shared kind registry: duplicate keys, unknown keys, sorted listing, strict settings, package import."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from kanban.registry import KindSettings, Registry, import_all, settings_errors


def test_registry_rejects_a_second_item_under_one_key_and_names_unknown_keys() -> None:
    registry: Registry[object] = Registry()
    first, second = object(), object()
    registry.add("b", first)
    registry.add("b", first)  # registering the same item again (module re-import) is harmless
    registry.add("a", second)
    with pytest.raises(ValueError, match="'b' registered twice"):
        registry.add("b", second)
    with pytest.raises(KeyError, match="unknown kind 'zzz'"):
        registry.get("zzz")
    assert registry.get("b") is first
    assert "a" in registry and "zzz" not in registry
    assert registry.keys() == ["a", "b"]
    assert registry.items() == [("a", second), ("b", first)]


def test_kind_settings_forbid_unknown_keys() -> None:
    class Settings(KindSettings):
        text: str

    assert Settings(text="x").text == "x"
    with pytest.raises(ValidationError):
        Settings(text="x", colour="red")


def test_import_all_imports_every_module_of_a_package() -> None:
    import_all("triggers.kinds")
    assert "triggers.kinds.invoice_paid" in sys.modules
    assert "triggers.kinds.inbound_webhook" in sys.modules


def test_settings_errors_name_each_path_once_with_plain_messages() -> None:
    class Settings(KindSettings):
        text: str
        count: int = 0

    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"count": "many", "bogus": 1})
    assert settings_errors(caught.value) == {
        "settings.text": "required",
        "settings.count": "Input should be a valid integer, unable to parse string as an integer",
        "settings.bogus": "unknown setting",
    }
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate([1])
    assert set(settings_errors(caught.value, prefix="config")) == {"config"}
