"""JSON Schema fragments for API declarations, the shared component registry, and the body checker.

Wrong JSON types are a 400 (`bad_request`), missing or unknown properties a 422 (`validation_error`);
both name the offending fields. Integers must fit the database's 32-bit INTEGER columns (ids, versions,
positions) unless declared BIGINT (64-bit, e.g. money), else 422. Other value rules stay in the services.
"""

from __future__ import annotations

from typing import Any

from kanban.errors import BadRequestError, ValidationError
from kanban.i18n import _

# Components of the OpenAPI document; plug-ins may add theirs with `component(name, schema)`.
COMPONENTS: dict[str, dict[str, Any]] = {}

INT: dict[str, Any] = {"type": "integer"}
BIGINT: dict[str, Any] = {"type": "integer", "format": "int64"}
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
STR: dict[str, Any] = {"type": "string"}
BOOL: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
ANY_OBJ: dict[str, Any] = {"type": "object"}


def nullable(s: dict[str, Any]) -> dict[str, Any]:
    """The same schema, also accepting null."""
    if "$ref" in s:
        return {"anyOf": [s, {"type": "null"}]}
    types = s["type"] if isinstance(s["type"], list) else [s["type"]]
    return {**s, "type": [*types, "null"]}


def arr(items: dict[str, Any]) -> dict[str, Any]:
    """An array of items."""
    return {"type": "array", "items": items}


def obj(props: dict[str, dict[str, Any]], required: list[str] | None = None, *, closed: bool = True) -> dict[str, Any]:
    """An object schema; `closed` objects reject unknown properties."""
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def component(name: str, s: dict[str, Any]) -> dict[str, Any]:
    """Register a named schema for the document and return a reference to it."""
    COMPONENTS[name] = s
    return ref(name)


def ref(name: str) -> dict[str, Any]:
    """A reference to a registered component."""
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """The list response: items and the next cursor."""
    return obj({"items": arr(item), "next": nullable(STR)}, ["items", "next"])


ERROR = component("Error", obj({"error": obj({
    "code": STR, "message": STR, "fields": {"type": "object", "additionalProperties": STR},
}, ["code", "message", "fields"], closed=False)}, ["error"]))


def check(s: dict[str, Any], data: Any) -> None:
    """Raise BadRequestError for wrong types, ValidationError for missing/unknown properties."""
    wrong: dict[str, str] = {}
    invalid: dict[str, str] = {}
    _walk(s, data, "", wrong, invalid)
    if wrong:
        raise BadRequestError("wrong JSON types: " + ", ".join(sorted(wrong)), wrong)
    if invalid:
        raise ValidationError(_("invalid request"), invalid)


_PY_TYPES: dict[str, Any] = {
    "string": str, "object": dict, "array": list, "boolean": bool, "null": type(None), "number": (int, float),
}


def _is(value: Any, type_name: str) -> bool:
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number" and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[type_name])


def _walk(s: dict[str, Any], data: Any, path: str, wrong: dict[str, str], invalid: dict[str, str]) -> None:
    s = _resolve(s)
    if "anyOf" in s:
        options = [_resolve(o) for o in s["anyOf"]]
        s = next((o for o in options if _is_type(o, data)), options[0])
    name = path or "body"
    if "type" in s and not _is_type(s, data):
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        wrong[name] = "must be " + " or ".join(types)
        return
    if _is(data, "integer") and abs(data) > (INT64_MAX if s.get("format") == "int64" else INT32_MAX):
        invalid[name] = "is out of range"
    if isinstance(data, dict) and "properties" in s:
        props = s["properties"]
        for key in s.get("required", []):
            if key not in data:
                invalid[_join(path, key)] = "is required"
        for key, value in data.items():
            if key in props:
                _walk(props[key], value, _join(path, key), wrong, invalid)
            elif s.get("additionalProperties") is False:
                invalid[_join(path, key)] = "unknown field"
    if isinstance(data, list) and "items" in s:
        for i, value in enumerate(data):
            _walk(s["items"], value, _join(path, str(i)), wrong, invalid)


def _resolve(s: dict[str, Any]) -> dict[str, Any]:
    return COMPONENTS[s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s


def _is_type(s: dict[str, Any], data: Any) -> bool:
    if "type" not in s:
        return True
    types = s["type"] if isinstance(s["type"], list) else [s["type"]]
    return any(_is(data, t) for t in types)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
