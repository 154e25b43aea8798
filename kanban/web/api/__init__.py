"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import account, deals, notifications, openapi, pipelines, records, users

routes = [*users.routes, *account.routes, *pipelines.routes, *deals.routes, *records.routes, *notifications.routes,
          *openapi.routes]
