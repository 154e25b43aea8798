"""The one strict JSON decoder for everything clients send: bodies, hook payloads, JSON typed into forms.

Python's json accepts what no database or client should see: NaN and ±Infinity, 1e400 (→ inf), integers of
thousands of digits (a ValueError beyond 4,300 digits), lone surrogates ("\\ud800", not encodable as UTF-8),
U+0000 (PostgreSQL text cannot hold it) and nesting deep enough to exhaust the stack. All are refused here
with a JSONValueError (a ValueError) that says what was wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
MAX_INT_DIGITS = 100  # far beyond any 64-bit column (the schema names those fields); longer ones never reach int()


class JSONValueError(ValueError):
    """The text is not JSON, or holds a value this app refuses; the message says which."""


def _constant(name: str) -> Any:
    raise JSONValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONValueError(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONValueError(f"integer with {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def loads(raw: str | bytes) -> Any:
    """Decode JSON strictly; JSONValueError (with a reason) for anything refused."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except JSONValueError:
        raise
    except RecursionError:
        raise JSONValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONValueError(f"malformed JSON: {exc}") from None
    check(data)
    return data


def check(data: Any) -> None:
    """Refuse too deep nesting, lone surrogates and NUL characters anywhere in decoded JSON (keys included)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise JSONValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise JSONValueError("text must not contain NUL (\\u0000) characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONValueError("text contains a lone surrogate (not valid Unicode)") from None
