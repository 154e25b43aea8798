"""Property-based fuzzing of the JSON API, driven by the app's own /api/openapi.json: no call may end in a 5xx.

Every documented operation (plug-ins' included, so new routes are covered without touching this file) gets
requests generated from its declared path, query and body schemas, mixed with hostile values: ids beyond 32 and
64 bits, NaN/Infinity/1e400, 5,000-digit integers, lone surrogates, NUL, wrong types and arbitrary JSON. Each
answer must be below 500, documented for the operation, and in the API's error shape when it is an error.
The run is bounded by example counts (about 20 per operation), not by the clock.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanban.events import Actor
from kanban.services.deals import create_deal
from tests.conftest import token_for

EXAMPLES_PER_OPERATION = 20
HOSTILE_NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 5000, b"2147483648",
                   b"9223372036854775808", b"-0", b"1.5"]
HOSTILE_TEXT = ["a\ud800b", "\udfff", "nul\x00byte", "", " ", "x" * 5000, "<script>", "DEAL_1", "💸"]
SMALL_IDS = st.integers(min_value=0, max_value=6)
ANY_INT = st.one_of(SMALL_IDS, st.integers(), st.sampled_from([2**31 - 1, 2**31, 2**63, -1, -(2**63) - 1]))
JSON_LEAF = st.one_of(st.none(), st.booleans(), ANY_INT, st.floats(), st.text(max_size=12),
                      st.sampled_from(HOSTILE_TEXT))
ANY_JSON = st.recursive(JSON_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                           st.dictionaries(st.text(max_size=8), kids, max_size=3)),
                        max_leaves=8)
QUERY_TEXT = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                       st.sampled_from(["0", "-1", "2147483648", "1e3", "true", "%00", "9" * 60, "500", "501"]))


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for a JSON schema (the subset this API uses), with hostile values mixed in."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of(*[from_schema(s, components, depth) for s in schema.get("anyOf", schema.get("oneOf"))])
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), JSON_LEAF)
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of(*[from_schema({**schema, "type": k}, components, depth) for k in kinds])
    if depth > 3:
        return JSON_LEAF
    typed = {
        "integer": ANY_INT, "number": st.one_of(ANY_INT, st.floats()), "boolean": st.booleans(),
        "null": st.none(), "string": st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE_TEXT)),
    }
    if kinds in typed:
        return st.one_of(typed[kinds], JSON_LEAF) if depth else typed[kinds]
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {}), components, depth + 1), max_size=4)
    if kinds == "object" and "properties" in schema:
        props = {k: from_schema(v, components, depth + 1) for k, v in schema["properties"].items()}
        required = [k for k in schema.get("required", []) if k in props]
        optional = {k: v for k, v in props.items() if k not in required}
        return st.fixed_dictionaries({k: props[k] for k in required}, optional=optional)
    return ANY_JSON


def body_bytes(schema: dict[str, Any] | None, components: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
    """Mostly schema-shaped JSON (NaN/Infinity floats and surrogates escaped as JSON does), sometimes raw hostility."""
    if schema is None:
        return st.none()
    shaped = from_schema(schema, components).map(lambda v: json.dumps(v).encode())
    raw = st.builds(lambda key, token: b'{"%s": %s}' % (key.encode(), token),
                    st.sampled_from(list(schema.get("properties", {"x": 0})) or ["x"]),
                    st.sampled_from(HOSTILE_NUMBERS))
    return st.one_of(shaped, shaped, raw, ANY_JSON.map(lambda v: json.dumps(v).encode()),
                     st.sampled_from([b"", b"{", b"[]", b"\xff\xfe", b'{"a":' * 3000 + b"1" + b"}" * 3000]))


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every documented operation."""
    return [(method.upper(), path, op) for path, ops in sorted(doc["paths"].items()) for method, op in ops.items()]


def request_for(path: str, op: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy for one call: path, query parameters, body and which user makes it."""
    path_params = {p["name"]: st.one_of(SMALL_IDS, ANY_INT.filter(lambda n: n >= 0))
                   for p in op["parameters"] if p["in"] == "path"}
    query = {p["name"]: QUERY_TEXT for p in op["parameters"] if p["in"] == "query"}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    return st.fixed_dictionaries({
        "path": st.fixed_dictionaries(path_params).map(lambda values: path.format(**values)),
        "query": st.fixed_dictionaries({}, optional=query),
        "body": body_bytes(body_schema, components),
        "who": st.sampled_from(["admin", "admin", "rep"]),
    })


@pytest.fixture
def world(runtime: Any, pipeline: Any, admin: Any, rep: Any) -> dict[str, str]:
    """A few rows for generated ids to hit, and the two users' bearer headers."""
    with runtime.sessions() as s, s.begin():
        for i in range(3):
            create_deal(s, title=f"Fuzz {i}", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                        responsible_id=rep.id, amount=100 * i)
    return {"admin": f"Bearer {token_for(runtime, admin.email)}", "rep": f"Bearer {token_for(runtime, rep.email)}"}


def _checker(client: Any, world: dict[str, str], method: str, path: str, op: dict[str, Any],
             components: dict[str, Any], calls: list[tuple[str, str, int]]) -> Any:
    """A hypothesis test of one operation: generated calls, each checked and recorded in `calls`."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(call=request_for(path, op, components))
    def check(call: dict[str, Any]) -> None:
        headers = {"Authorization": world[call["who"]]}
        if call["body"] is not None:
            headers["Content-Type"] = "application/json"
        response = client.request(method, call["path"], params=call["query"], content=call["body"], headers=headers)
        calls.append((method, call["path"], response.status_code))
        assert response.status_code < 500, (method, call, response.text[:300])
        assert str(response.status_code) in op["responses"], (method, call, response.status_code, "undocumented")
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["fields"], dict)

    return check


def test_generated_calls_never_answer_5xx(client: Any, world: dict[str, str]) -> None:
    doc = client.get("/api/openapi.json").json()
    components = doc["components"]["schemas"]
    calls: list[tuple[str, str, int]] = []
    started = time.monotonic()
    for method, path, op in operations(doc):
        _checker(client, world, method, path, op, components, calls)()
    elapsed = time.monotonic() - started
    statuses = sorted({status for *_, status in calls})
    # The figures go to the test log (pytest -s): calls made, time taken, statuses seen.
    print(f"fuzz: {len(calls)} calls over {len(operations(doc))} operations in {elapsed:.1f} s; statuses {statuses}")
    assert len(calls) >= len(operations(doc)) * 5
