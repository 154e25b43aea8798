"""Placeholder checks for robot templates: known names, deal fields, and outputs of chained robots above."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from robots.models import Robot
from robots.registry import RobotKind
from robots.templating import TemplateError, placeholders
from robots.values import KNOWN_PLACEHOLDERS, is_known_placeholder


def reachable(above: list[Robot], after_previous: bool) -> list[Robot]:
    """Robots whose outputs a robot may use: those above it linked by an unbroken after_previous chain."""
    chain: list[Robot] = []
    follow = after_previous
    for robot in reversed(above):
        if not follow:
            break
        chain.append(robot)
        follow = robot.after_previous
    return chain


def template_values(settings: dict[str, Any], spec: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every template a settings field holds; `fields.*` means each value of a dict."""
    if spec.endswith(".*"):
        name = spec[:-2]
        value = settings.get(name)
        if isinstance(value, dict):
            for sub, text in value.items():
                if isinstance(text, str):
                    yield f"{name}.{sub}", text
        return
    value = settings.get(spec)
    if isinstance(value, str):
        yield spec, value
    elif isinstance(value, list):
        for i, text in enumerate(value):
            if isinstance(text, str):
                yield f"{spec}.{i}", text


def template_errors(cls: type[RobotKind], settings: dict[str, Any], chain: list[Robot],
                    above: list[Robot]) -> dict[str, str]:
    """Messages per settings path for unknown placeholders and unreachable robot outputs."""
    errors: dict[str, str] = {}
    outputs = {r.key: _outputs(r.kind) for r in chain}
    for spec in cls.templates:
        for path, text in template_values(settings, spec):
            message = _text_problem(text, outputs, {r.key for r in above})
            if not message and spec in cls.setting_types:
                message = type_problem(cls.setting_types[spec], text, {r.key: r.kind for r in chain})
            if message:
                errors[path] = message
    return errors


_WHOLE_REF = re.compile(r"^\s*\{\{\s*robots\.([A-Za-z0-9_\-]+)\.([A-Za-z0-9_]+)\s*\}\}\s*$")


def type_problem(wanted: str, text: str, kinds: dict[str, str]) -> str | None:
    """Why a setting taking a `wanted` reference (a chat…) cannot take this robot output, or None.

    Only a setting that is exactly one output reference is typed; text around a placeholder makes it text."""
    from robots.registry import registry

    match = _WHOLE_REF.match(text)
    if match is None or kinds.get(match.group(1)) not in registry:
        return None
    key, output = match.groups()
    got = registry.get(kinds[key]).output_type(output)
    if got is None or got == wanted:
        return None
    return (f"{{{{ robots.{key}.{output} }}}} is {_A.get(got, got)}, but this setting takes "
            f"{_A.get(wanted, wanted)}")


_A = {"chat": "a chat", "invoice": "an invoice", "email": "an email", "url": "a URL", "user": "a user",
      "activity": "an activity", "deal": "a deal", "chat_message": "a chat message", "sms": "an SMS"}


def _outputs(kind: str) -> tuple[str, ...]:
    from robots.registry import registry

    return registry.get(kind).outputs if kind in registry else ()


def _text_problem(text: str, outputs: dict[str, tuple[str, ...]], above_keys: set[str]) -> str | None:
    try:
        names = placeholders(text)
    except TemplateError as exc:
        return f"template error: {exc}"
    for name in names:
        message = name_problem(str(name), outputs, above_keys)
        if message:
            return message
    return None


def name_problem(name: str, outputs: dict[str, tuple[str, ...]], above_keys: set[str]) -> str | None:
    """Why a placeholder name cannot be used here, or None when it can."""
    parts = name.split(".")
    if is_known_placeholder(name):
        return None
    if parts[0] != "robots":
        return f"unknown placeholder {{{{ {name} }}}}"
    if len(parts) != 3:
        return f"{{{{ {name} }}}}: use robots.<key>.<output>"
    key, output = parts[1], parts[2]
    if key not in outputs:
        if key in above_keys:
            return (f"{{{{ {name} }}}}: robot “{key}” is above but not linked to this one by "
                    "“after previous” on every robot in between")
        return f"{{{{ {name} }}}}: no robot “{key}” above this one in this stage"
    if output not in outputs[key]:
        declared = ", ".join(outputs[key]) or "none"
        return f"{{{{ {name} }}}}: robot “{key}” has no output “{output}” (outputs: {declared})"
    return None


def stage_problems(ordered: list[Robot], kind_class: Callable[[Any], type[RobotKind]]) -> list[tuple[str, str]]:
    """(robot key, message) for each robot whose stored templates break under this order."""
    problems: list[tuple[str, str]] = []
    for i, robot in enumerate(ordered):
        cls = kind_class(robot.kind)
        above = ordered[:i]
        chain = reachable(above, robot.after_previous)
        errors = template_errors(cls, robot.settings or {}, chain, above)
        errors.update(condition_errors(robot.condition, chain, above))
        for path, message in errors.items():
            problems.append((robot.key, f"“{robot.name}” ({path}): {message}"))
    return problems


def condition_errors(condition: dict[str, Any] | None, chain: list[Robot], above: list[Robot]) -> dict[str, str]:
    """Messages for condition fields naming outputs of robots this one cannot see."""
    outputs = {r.key: _outputs(r.kind) for r in chain}
    errors: dict[str, str] = {}
    for path, name in _condition_fields(condition or {}, "condition"):
        if name.startswith("robots."):
            message = name_problem(name, outputs, {r.key for r in above})
            if message:
                errors[f"{path}.field"] = message
    return errors


def _condition_fields(group: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for mode in ("all", "any"):
        for i, item in enumerate(group.get(mode) or []):
            if isinstance(item, dict) and ("all" in item or "any" in item):
                yield from _condition_fields(item, f"{prefix}.{mode}.{i}")
            elif isinstance(item, dict) and isinstance(item.get("field"), str):
                yield f"{prefix}.{mode}.{i}", item["field"]


def help_for(chain: list[Robot]) -> dict[str, list[tuple[str, str]]]:
    """Placeholders a robot's templates may use: the known names and outputs of chained robots above."""
    outputs = [(f"robots.{r.key}.{out}", f"output of “{r.name}”") for r in reversed(chain) for out in _outputs(r.kind)]
    known = [(name, text) for name, text in KNOWN_PLACEHOLDERS if not name.startswith("robots.")]
    return {"known": known, "outputs": outputs}
