"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import activities, deals, imports, openapi, persons, pipelines, records, users

routes = [*users.routes, *pipelines.routes, *deals.routes, *persons.routes, *activities.routes, *imports.routes,
          *records.routes,
          *openapi.routes]
