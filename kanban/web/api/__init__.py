"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import (
    activities,
    commerce,
    deals,
    imports,
    openapi,
    persons,
    pipelines,
    records,
    requisites,
    users,
)

routes = [*users.routes, *pipelines.routes, *deals.routes, *persons.routes, *activities.routes, *imports.routes,
          *records.routes, *commerce.routes, *requisites.routes,
          *openapi.routes]
