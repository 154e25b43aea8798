"""Plugs robots into the core runtime: event handlers, actors, web routes."""

from __future__ import annotations

from typing import Any


def install(runtime: Any) -> None:
    """Subscribe robot scheduling to core events and register robot routes."""
