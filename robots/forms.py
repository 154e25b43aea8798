"""HTML forms generated from a robot kind's settings schema, and the parsing of what they post back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from kanban import strictjson
from kanban.i18n import N_, _, ngettext
from robots.registry import RobotKind

LONG_TEXT = ("text", "body", "description")
RECIPIENT_TYPES = ("user", "role", "department", "responsible", "supervisor", "everyone")
DELAY_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAPPING_ROWS = 3  # empty rows offered under the filled ones of a name -> value setting


@dataclass
class Widget:
    """One settings input of the generated form."""

    name: str
    label: str
    kind: str  # text|textarea|number|checkbox|select|user|users|stage|email_template|recipients|list|mapping|json
    required: bool
    value: Any = None
    options: list[Any] = field(default_factory=list)
    template: bool = False
    help: str = ""
    error: str = ""
    chosen: list[str] = field(default_factory=list)  # recipient option values that are ticked


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[1], {})
    return node


def _unwrap(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a property with `null` alternatives (Optional[...]) removed."""
    prop = _resolve(prop, defs)
    options = prop.get("anyOf")
    if options:
        real = [_resolve(o, defs) for o in options if o.get("type") != "null"]
        if len(real) == 1:
            return {**real[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


def _deep(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    """The schema with references inlined (for detecting recipient lists by their allowed `type` values)."""
    if depth > 6:
        return node
    if isinstance(node, dict):
        if "$ref" in node:
            return _deep(_resolve(node, defs), defs, depth + 1)
        return {k: _deep(v, defs, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_deep(v, defs, depth + 1) for v in node]
    return node


def widget_kind(name: str, core: dict[str, Any], cls: type[RobotKind], defs: dict[str, Any]) -> str:
    """Choose an input for one settings property."""
    if name in cls.templates:
        if core.get("type") == "array":
            return "list"
        return "textarea" if name in LONG_TEXT else "text"
    if f"{name}.*" in cls.templates:
        return "mapping"
    if name == "stage_id":
        return "stage"
    if name == "template_id":
        return "email_template"
    kind = core.get("type")
    if kind == "array":
        items = _unwrap(core.get("items", {}), defs)
        if "responsible" in json.dumps(_deep(items, defs)):
            return "recipients"
        if items.get("type") == "integer":
            return "users"
        return "list" if items.get("type") == "string" else "json"
    if "enum" in core or "const" in core:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer" and name.endswith("_id"):
        return "user"
    if kind in ("integer", "number"):
        return "number"
    if kind == "object" and isinstance(core.get("additionalProperties"), dict):
        return "mapping"
    return "text" if kind == "string" else "json"


_ACRONYMS = {"url": "URL", "sms": "SMS", "html": "HTML", "id": "ID"}
# The labels _label derives from the kinds' setting names, listed so the catalogues hold them (a test checks that
# every kind's labels are here).
SETTING_LABELS = frozenset({
    N_("Activity"),
    N_("Address"),
    N_("Address type"),
    N_("Allow private"),
    N_("Amount"),
    N_("Assignee"),
    N_("Attachments"),
    N_("Attachments field"),
    N_("Author"),
    N_("Bodies"),
    N_("Body"),
    N_("Chat"),
    N_("Description"),
    N_("Due"),
    N_("Entity"),
    N_("Fields"),
    N_("Link"),
    N_("Mark"),
    N_("Members"),
    N_("Message type"),
    N_("Mode"),
    N_("Name"),
    N_("Note"),
    N_("Pipeline"),
    N_("Reason"),
    N_("Recipients"),
    N_("Responsible"),
    N_("Send as"),
    N_("Sender"),
    N_("Show history"),
    N_("Stage"),
    N_("Status"),
    N_("Subject"),
    N_("Subjects"),
    N_("Tag"),
    N_("Tags"),
    N_("Template"),
    N_("Text"),
    N_("Title"),
    N_("To"),
    N_("Type"),
    N_("URL"),
    N_("Users"),
})


def _label(name: str) -> str:
    """A setting's label from its name: "author_id" → "Author", "url" → "URL"."""
    words = name.removesuffix("_id").split("_")
    text = " ".join(_ACRONYMS.get(word, word) for word in words)
    return _(text if text[:1].isupper() else text[:1].upper() + text[1:])


def widgets(cls: type[RobotKind], settings: dict[str, Any]) -> list[Widget]:
    """The settings inputs of a kind, filled with `settings`."""
    spec = cls.Settings.model_json_schema()
    defs = spec.get("$defs", {})
    required = set(spec.get("required", []))
    out = []
    for name, prop in spec.get("properties", {}).items():
        core = _unwrap(prop, defs)
        kind = widget_kind(name, core, cls, defs)
        options = list(core.get("enum") or ([core["const"]] if "const" in core else []))
        value = settings.get(name, core.get("default", prop.get("default")))
        chosen = [recipient_value(r) for r in value] if kind == "recipients" and isinstance(value, list) else []
        label = _label(name)
        out.append(Widget(name=name, label=label, kind=kind,
                          required=name in required, value=value, options=options,
                          template=name in cls.templates or f"{name}.*" in cls.templates,
                          help=_(prop["description"]) if prop.get("description") else "", chosen=chosen))
    return out


def recipient_value(ref: Any) -> str:
    """A recipient ref as an option value: "user:3", "role:admin", "responsible"."""
    if not isinstance(ref, dict):
        return ""
    kind = ref.get("type")
    if kind in ("user", "department"):
        return f"{kind}:{ref.get('id')}"
    if kind == "role":
        return f"role:{ref.get('role')}"
    return str(kind)


def parse_recipient(value: str) -> dict[str, Any]:
    """An option value back to a recipient ref."""
    kind, _unused, arg = value.partition(":")
    if kind in ("user", "department"):
        return {"type": kind, "id": int(arg) if arg.isdigit() else arg}
    if kind == "role":
        return {"type": "role", "role": arg}
    return {"type": kind}


def _number(raw: str) -> Any:
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw  # left as text so validation names the field


def parse_settings(cls: type[RobotKind], form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings from the posted form (empty optional inputs are left out) and JSON parse errors."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for widget in widgets(cls, {}):
        key = f"s.{widget.name}"
        raw = str(form.get(key, "")).strip() if widget.kind not in ("users", "recipients", "mapping") else ""
        if widget.kind == "checkbox":
            out[widget.name] = key in form
        elif widget.kind in ("recipients", "users", "mapping"):
            value = _collection(widget.kind, form, key)
            # Left empty, an optional setting keeps its default (e.g. "the responsible").
            if value or widget.required:
                out[widget.name] = value
        elif raw == "":
            continue
        elif widget.kind in ("number", "user", "stage", "email_template"):
            out[widget.name] = _number(raw)
        elif widget.kind == "select":
            out[widget.name] = next((o for o in widget.options if str(o) == raw), raw)
        elif widget.kind == "list":
            out[widget.name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif widget.kind == "json":
            try:
                out[widget.name] = strictjson.loads(raw)
            except strictjson.JSONValueError as exc:
                errors[f"settings.{widget.name}"] = _("not valid JSON: %(exc)s", exc=exc)
        else:
            out[widget.name] = str(form.get(key, ""))
    return out, errors


def _collection(kind: str, form: FormData, key: str) -> Any:
    if kind == "recipients":
        return [parse_recipient(str(v)) for v in form.getlist(key) if v]
    if kind == "users":
        return [_number(str(v)) for v in form.getlist(key) if v]
    return _mapping(form, key)


def _mapping(form: FormData, key: str) -> dict[str, str]:
    names = form.getlist(f"{key}.name")
    values = form.getlist(f"{key}.value")
    return {str(n).strip(): str(v) for n, v in zip(names, values, strict=False) if str(n).strip()}


def parse_delay(form: FormData) -> dict[str, Any]:
    """The delay editor's inputs as a delay object (left unchecked: config validates it)."""
    kind = str(form.get("delay_type", "now"))
    delay: dict[str, Any] = {"type": kind}
    if kind in ("after", "before_field", "after_field"):
        amount = str(form.get("delay_amount", "0")).strip() or "0"
        unit = DELAY_UNITS.get(str(form.get("delay_unit", "seconds")), 1)
        delay["seconds"] = int(amount) * unit if amount.isdigit() else amount
    if kind in ("before_field", "after_field"):
        delay["field"] = str(form.get("delay_field", "")).strip()
    if kind in ("at_time", "business_days"):
        delay["time"] = str(form.get("delay_time", "")).strip()
        zone = str(form.get("delay_time_zone", "")).strip()
        if zone:
            delay["time_zone"] = zone
    if kind == "business_days":
        days = str(form.get("delay_days", "0")).strip() or "0"
        delay["days"] = int(days) if days.isdigit() and len(days) < 6 else days
    return delay


def delay_parts(delay: dict[str, Any] | None) -> dict[str, Any]:
    """A stored delay split for the editor: type, amount + unit, field, time."""
    delay = delay or {"type": "now"}
    seconds = delay.get("seconds") or 0
    unit = "seconds"
    if isinstance(seconds, int):
        for name in ("days", "hours", "minutes"):
            if seconds and seconds % DELAY_UNITS[name] == 0:
                unit = name
                break
    amount = seconds // DELAY_UNITS[unit] if isinstance(seconds, int) else seconds
    return {"type": delay.get("type", "now"), "amount": amount, "unit": unit,
            "field": delay.get("field") or "", "time": delay.get("time") or "", "days": delay.get("days", 0),
            "time_zone": delay.get("time_zone") or ""}


def delay_label(delay: dict[str, Any] | None) -> str:
    """A short badge text for a delay ("" when immediate)."""
    parts = delay_parts(delay)
    zone = f" ({parts['time_zone']})" if parts["time_zone"] else ""
    count = parts["amount"] if isinstance(parts["amount"], int) else 0
    amount = {
        "days": ngettext("%(num)d day", "%(num)d days", count),
        "hours": ngettext("%(num)d hour", "%(num)d hours", count),
        "minutes": ngettext("%(num)d minute", "%(num)d minutes", count),
        "seconds": ngettext("%(num)d second", "%(num)d seconds", count),
    }.get(parts["unit"], "") if parts["amount"] else ""
    zero = ngettext("%(num)d second", "%(num)d seconds", 0)
    return {
        "now": "",
        "after": _("after %(amount)s", amount=amount) if amount else "",
        "before_field": _("%(amount)s before %(field)s", amount=amount or zero, field=parts["field"]),
        "after_field": _("%(amount)s after %(field)s", amount=amount or zero, field=parts["field"]),
        "at_time": _("at %(time)s", time=parts["time"]) + zone,
        "business_days": ngettext("in %(num)d business day at %(time)s", "in %(num)d business days at %(time)s",
                                  int(parts["days"]) if str(parts["days"]).isdigit() else 0, time=parts["time"]) + zone,
    }.get(parts["type"], parts["type"])
