"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import activities, deals, openapi, persons, pipelines, records, users

routes = [*users.routes, *pipelines.routes, *deals.routes, *persons.routes, *activities.routes, *records.routes,
          *openapi.routes]
