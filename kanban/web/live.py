"""The SSE endpoint: streams live notices for one board (pipeline) or one deal page, and the user's bell."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kanban import records
from kanban.errors import RateLimitedError
from kanban.live import LiveHub
from kanban.web.deps import in_tx, web_user
from kanban.web.forms import optional_int

PING_SECONDS = 15


async def events(request: Request) -> Response:
    """GET /events[?pipeline_id=|?deal_id=|?chat_id=] — server-sent "board", "deal" and "chat" notices for
    that page, and "notifications" notices for the signed-in user (the only ones without a page)."""
    pipeline_id = optional_int(request.query_params, "pipeline_id")
    deal_id = optional_int(request.query_params, "deal_id")
    chat_id = optional_int(request.query_params, "chat_id")

    def check(session: Session) -> int:
        user = web_user(request, session)
        if chat_id is not None:
            records.get_chat(session, user, chat_id)  # 404 unless the user may read the chat
        return int(user.id)

    user_id = await in_tx(request, check)
    hub: LiveHub = request.app.state.runtime.extras["live"]
    limit = request.app.state.runtime.settings.max_streams_per_user
    sub = hub.subscribe(pipeline_id=pipeline_id, deal_id=deal_id, user_id=user_id, chat_id=chat_id, limit=limit)
    if sub is None:
        # Each stream holds a connection and a queue: a per-user cap keeps one account from exhausting them.
        raise RateLimitedError(f"too many open live streams (at most {limit} per user); close a tab",
                               retry_after=PING_SECONDS)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        try:
            # An immediate event tells the page the stream is live (and tests know it is subscribed).
            yield {"event": "ready", "data": "{}"}
            while True:
                notice = await sub.get()
                if notice.get("type") == "close":
                    return
                yield {"event": notice["type"], "data": json.dumps(notice)}
        finally:
            hub.unsubscribe(sub)

    return EventSourceResponse(stream(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})


routes = [Route("/events", events, methods=["GET"])]
