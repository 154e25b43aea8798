"""The JSON API under /api/v1 (token auth) and its OpenAPI document."""

from __future__ import annotations

from kanban.web.api import (
    account,
    activities,
    commerce,
    company_settings,
    deals,
    decisions,
    imports,
    mailbox,
    notifications,
    openapi,
    persons,
    pipelines,
    records,
    requisites,
    roles,
    users,
)

routes = [*users.routes, *roles.routes, *account.routes, *pipelines.routes, *deals.routes, *persons.routes,
          *activities.routes, *imports.routes, *records.routes, *notifications.routes, *commerce.routes,
          *requisites.routes, *mailbox.routes, *company_settings.routes, *decisions.routes, *openapi.routes]
