"""Robot conditions: the shared evaluator (kanban/conditions.py) over robot template values and outputs."""

from __future__ import annotations

from typing import Any

from kanban import conditions as core
from kanban.conditions import OPS, compare, evaluate, explain
from robots.values import is_known_placeholder, robot_ref

__all__ = ["OPS", "compare", "evaluate", "explain", "known_field", "validate"]


def known_field(name: str) -> bool:
    """True for a placeholder a condition may read: deal/contact/stage/responsible values or robots.<key>.<output>."""
    return is_known_placeholder(name) or robot_ref(name) is not None


def validate(condition: Any, prefix: str = "condition") -> dict[str, str]:
    """Field-level errors of a robot's condition (empty dict when valid); None and {} mean "always"."""
    return core.validate(condition, known_field, prefix)
