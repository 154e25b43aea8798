"""Web edge: Starlette app, HTML views, the JSON API."""
