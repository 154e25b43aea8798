"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import commerce, deals, openapi, pipelines, records, requisites, users

routes = [*users.routes, *pipelines.routes, *deals.routes, *records.routes, *commerce.routes,
          *requisites.routes, *openapi.routes]
