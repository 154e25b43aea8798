"""Jinja2 templates (packaged into the wheel as kanban/_data/templates)."""
