"""Alembic migrations (packaged into the wheel as kanban/_data/migrations)."""
