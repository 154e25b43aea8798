"""GET /api/openapi.json: an OpenAPI 3.1 document generated from the live app's /api/v1 routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from kanban.web.access import access
from kanban.web.api.base import EndpointSpec
from kanban.web.api.schema import COMPONENTS, ERROR

PREFIX = "/api/v1"
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_ERRORS = {"400": "malformed request or wrong JSON types", "401": "missing or invalid bearer token",
           "403": "not allowed for your role (admin-only endpoints, or outside your access scope)",
           "404": "not found", "409": "version conflict", "413": "request body larger than 1 MiB",
           "422": "validation error (`fields` names the offending fields)",
           "503": "the database is briefly unavailable; retry after `Retry-After` seconds"}
# Every authenticated operation may answer 403 (role scopes); 413 only where a body is read.
_BODY_ONLY = ("413",)


def api_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Route]]:
    """(path, method, route) of every /api/v1 endpoint, looking inside mounts."""
    for route in routes:
        if isinstance(route, Mount):
            yield from api_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route) and (prefix + route.path).startswith(PREFIX + "/"):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield prefix + route.path, method, route


def spec_of(route: Route) -> EndpointSpec:
    """The endpoint's declared spec, or one made from its docstring when it declared none."""
    spec = getattr(route.endpoint, "openapi", None)
    if isinstance(spec, EndpointSpec):
        return spec
    doc = (route.endpoint.__doc__ or route.name or "").strip().splitlines()
    return EndpointSpec(summary=doc[0] if doc else route.path)


def _path_params(route: Route) -> list[dict[str, Any]]:
    out = []
    for name, conv in route.param_convertors.items():
        kind = "integer" if isinstance(conv, IntegerConvertor) else "number" if isinstance(conv, FloatConvertor) \
            else "string"
        out.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return out


def _operation(path: str, method: str, route: Route) -> dict[str, Any]:
    spec = spec_of(route)
    op: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": method.lower() + re.sub(r"\W+", "_", _PARAM.sub(r"\1", path)).rstrip("_"),
        "parameters": [*_path_params(route), *spec.params],
    }
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": spec.body}}}
    ok: dict[str, Any] = {"description": "success"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": spec.response}}
    responses = {str(spec.status): ok}
    for code, text in _ERRORS.items():
        if code in ("401", "403") and spec.public:
            continue
        if code in _BODY_ONLY and method not in ("POST", "PUT", "PATCH"):
            continue
        responses[code] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
    if spec.admin:
        # Which operations are admin-only, machine-readable (every authenticated operation may answer 403).
        op["x-admin-only"] = True
        responses["403"] = {**responses["403"], "description": "admins only"}
    op["responses"] = responses
    op["security"] = [] if spec.public else [{"bearer": []}]
    return op


def build_document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document for these routes."""
    paths: dict[str, dict[str, Any]] = {}
    for path, method, route in api_routes(routes):
        paths.setdefault(_PARAM.sub(r"{\1}", path), {})[method.lower()] = _operation(path, method, route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kanban CRM API", "version": "1",
                 "description": "Errors: {\"error\": {\"code\", \"message\", \"fields\"}}. Lists: "
                                "{\"items\", \"next\"} with `limit` (≤ 500) and `cursor`."},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(COMPONENTS.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@access("public")
async def openapi_json(request: Request) -> Response:
    """The OpenAPI document of this app (no token needed)."""
    return JSONResponse(build_document(list(request.app.routes)))


routes = [Route("/api/openapi.json", openapi_json, methods=["GET"])]
