"""Plugs triggers into the core runtime: event handlers, actors, web routes."""

from __future__ import annotations

from typing import Any


def install(runtime: Any) -> None:
    """Subscribe trigger handlers to core events and register trigger routes."""
