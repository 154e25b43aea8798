"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import deals, openapi, pipelines, records, roles, users

routes = [*users.routes, *roles.routes, *pipelines.routes, *deals.routes, *records.routes, *openapi.routes]
