"""ASGI entry point: `uvicorn kanban.asgi:app` builds the runtime from the environment."""

from __future__ import annotations

from kanban.bootstrap import bootstrap
from kanban.web.app import create_app

app = create_app(bootstrap())
