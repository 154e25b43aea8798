"""Building blocks every JSON API module uses: the endpoint decorator, body checks, pagination.

How to write an endpoint (core, robots and triggers alike):

    @endpoint("Create a thing", status=201, admin=True, body=schema.obj({"name": schema.STR}, required=["name"]),
              response=schema.ref("Thing"))   # or access="authenticated" / "deal:edit" instead of admin=True
    def create_thing(call: Call) -> dict:
        data = call.body()                  # parsed, type-checked against `body` (400 / 422 otherwise)
        ...                                 # call.session is an open transaction, call.user the token's user
        return {...}                        # plain JSON; committed after return

    routes = [Route("/api/v1/things", create_thing, methods=["POST"])]

Every endpoint declares its access level: `admin=True`, `public=True` or `access="authenticated"` /
`access="deal:<read|create|edit|move|delete>"` (kanban.web.access; tests/access fails for a route without
one). A `deal:<action>` route with a `{deal_id}` path parameter is checked against kanban.policy before the
function runs (404 when the deal is not readable, 403 when the action is not allowed); lists filter their
rows with `policy.readable_deals` / `policy.deal_link_readable`.

The decorated function is a Starlette endpoint: it authenticates the bearer token (401), checks the role
(`admin=True` → 403 for reps), runs the function in a worker thread inside one transaction and returns
JSON. Domain errors (kanban.errors) become the API error shape at the web edge (kanban.web.app).
The declared summary, params, body and response are what /api/openapi.json shows for the route.

Lists: `paginate(call, stmt, key_column, descending=...)` gives `{"items": rows, "next": cursor}` with
`limit` (default 50, max 500) and an opaque keyset `cursor` read from the query string.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kanban import policy, strictjson
from kanban.errors import BadRequestError, NotFoundError, ValidationError
from kanban.i18n import _
from kanban.models import User
from kanban.services.deals import get_deal
from kanban.web.access import check_level
from kanban.web.api import schema
from kanban.web.deps import api_user, in_tx, require_admin

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
BODY_METHODS = ("POST", "PUT", "PATCH")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
LOCKING_ACTIONS = ("move", "edit", "delete")


@dataclass
class EndpointSpec:
    """What an endpoint declares about itself for the OpenAPI document."""

    summary: str
    status: int = 200
    admin: bool = False
    body: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    params: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False
    access: str | None = None


@dataclass
class Call:
    """One API request inside its transaction: session, authenticated user, request, raw body."""

    request: Request
    session: Session
    user: User
    raw_body: bytes
    spec: EndpointSpec

    def body(self) -> dict[str, Any]:
        """The JSON object body, checked against the endpoint's declared schema."""
        data = parse_json(self.raw_body)
        if self.spec.body is not None:
            schema.check(self.spec.body, data)
        elif not isinstance(data, dict):
            raise BadRequestError(_("the body must be a JSON object"))
        return data

    def path_int(self, name: str) -> int:
        """An integer path parameter (routes use the {name:int} convertor); ids beyond the range don't exist."""
        value = int(self.request.path_params[name])
        if value > schema.INT32_MAX:
            raise NotFoundError(_("%(name)s %(value)s not found", name=name, value=value))
        return value

    def query_int(self, name: str, default: int | None = None) -> int | None:
        """An integer query parameter; 400 when it is not an integer."""
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequestError(_("%(name)s must be an integer", name=name),
                                  {name: _("must be an integer")}) from None
        if abs(value) > schema.INT32_MAX:
            raise ValidationError(_("%(name)s is out of range", name=name), {name: _("is out of range")})
        return value

    def query_str(self, name: str) -> str | None:
        """A text query parameter, stripped; None when absent or blank."""
        raw = self.request.query_params.get(name)
        if raw is not None and "\x00" in raw:
            raise ValidationError(_("%(name)s must not contain NUL characters", name=name),
                                  {name: _("contains a NUL character")})
        return raw.strip() or None if raw is not None else None


def parse_json(raw: bytes) -> Any:
    """Decode a request body strictly (kanban.strictjson); 400 bad_request when it is not valid JSON, 422 for
    values no field can hold (NaN, ±Infinity, 1e400, 5,000-digit integers, lone surrogates, NUL)."""
    if not raw.strip():
        raise BadRequestError(_("a JSON body is required"))
    try:
        return strictjson.loads(raw)
    except strictjson.JSONValueError as exc:
        message = str(exc)
        if message.startswith("malformed JSON") or message.startswith("nested"):
            raise BadRequestError(message) from None
        raise ValidationError(_("invalid value: %(message)s", message=message), {"body": message}) from None


def endpoint(
    summary: str,
    *,
    status: int = 200,
    admin: bool = False,
    body: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    params: Sequence[dict[str, Any]] = (),
    public: bool = False,
    access: str | None = None,
) -> Callable[[Callable[[Call], Any]], Callable[[Request], Any]]:
    """Turn `fn(call) -> JSON` into an authenticated, transactional Starlette endpoint with an OpenAPI spec.

    `access` declares the route's level (kanban.web.access); `admin=True` means "admin".
    """
    level = "admin" if admin else ("public" if public else access)
    spec = EndpointSpec(summary, status, admin, body, response, list(params), public,
                        check_level(level) if level else None)

    def wrap(fn: Callable[[Call], Any]) -> Callable[[Request], Any]:
        @wraps(fn)
        async def handler(request: Request) -> Response:
            raw = await _read_body(request) if request.method in BODY_METHODS else b""
            result = await in_tx(request, _run, fn, request, raw, spec)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status_code=204)
            return JSONResponse(result, status_code=status)

        handler.openapi = spec  # type: ignore[attr-defined]
        handler.access = spec.access  # type: ignore[attr-defined]
        return handler

    return wrap


def _run(session: Session, fn: Callable[[Call], Any], request: Request, raw: bytes, spec: EndpointSpec) -> Any:
    # Authenticate before looking at the body, so a bad token is a 401 even when the body is malformed.
    user = api_user(request, session)
    if spec.admin:
        require_admin(user)
    if request.method in WRITE_METHODS:
        refuse_unknown_query(request, spec)
    if spec.access and spec.access.startswith("deal:") and "deal_id" in request.path_params:
        # Routes about one deal are checked here, before the function runs (404 unreadable, 403 not allowed).
        deal_id = int(request.path_params["deal_id"])
        if deal_id > schema.INT32_MAX:
            raise NotFoundError(_("deal %(deal_id)s not found", deal_id=deal_id))
        action = spec.access.removeprefix("deal:")
        # A route that changes the deal locks it here: the service's own get_deal(for_update=True) then
        # reuses this row instead of reading it a second time.
        deal = get_deal(session, deal_id, for_update=action in LOCKING_ACTIONS)
        policy.require(session, user, action, deal)
    return fn(Call(request, session, user, raw, spec))


def refuse_unknown_query(request: Request, spec: EndpointSpec) -> None:
    """A write endpoint refuses query parameters it does not declare (400): a typo such as `?dry_run=1` on an
    endpoint without a dry run must never perform the real thing."""
    known = {p["name"] for p in spec.params if p.get("in") == "query"}
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise BadRequestError(
            _("unknown query parameter %(names)s (this endpoint accepts: %(allowed)s)",
              names=", ".join(unknown), allowed=allowed),
            {name: _("not a parameter of this endpoint") for name in unknown})


async def _read_body(request: Request) -> bytes:
    # The byte cap (1 MiB, chunked bodies included) is enforced while reading: kanban.web.limits.
    return await request.body()


def limit_of(call: Call) -> int:
    """The page size asked for: default 50, capped at 500; 422 when below 1."""
    limit = call.query_int("limit", DEFAULT_LIMIT)
    assert limit is not None
    if limit < 1:
        raise ValidationError(_("limit must be at least 1"), {"limit": _("must be between 1 and 500")})
    return min(limit, MAX_LIMIT)


def encode_cursor(key: Any) -> str:
    """An opaque cursor for the last key of a page."""
    return base64.urlsafe_b64encode(json.dumps({"k": key}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The key inside a cursor; 400 when it was not made by encode_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return data["k"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise BadRequestError(_("invalid cursor"), {"cursor": _("not a cursor returned by this API")}) from None


def paginate(call: Call, stmt: Select[Any], key: Any, *, descending: bool = False) -> tuple[list[Any], str | None]:
    """Rows of one keyset page of `stmt` ordered by the unique integer column `key`, and the next cursor."""
    limit = limit_of(call)
    cursor = call.query_str("cursor")
    if cursor is not None:
        after = decode_cursor(cursor)
        if not isinstance(after, int) or isinstance(after, bool) or abs(after) > schema.INT64_MAX:
            raise BadRequestError(_("invalid cursor"), {"cursor": _("not a cursor returned by this API")})
        stmt = stmt.where(key < after if descending else key > after)
    stmt = stmt.order_by(key.desc() if descending else key.asc()).limit(limit + 1)
    rows = list(call.session.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(getattr(rows[-1], key.key))


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """The list response shape."""
    return {"items": items, "next": next_cursor}


def iso(value: Any) -> str | None:
    """A timezone-aware datetime as ISO 8601 (None stays None)."""
    return value.isoformat() if value is not None else None


# Query parameters shared by list endpoints, for their OpenAPI declarations.
PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
     "description": f"page size; values above {MAX_LIMIT} are served as {MAX_LIMIT}"},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next` of the previous page"},
]
