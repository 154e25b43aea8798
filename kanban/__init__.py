"""Kanban CRM core: models, services, queries, web and the composition root."""
