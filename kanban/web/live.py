"""The SSE endpoint: streams live notices for one board (pipeline) or one deal page, and the user's bell."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kanban import policy, records
from kanban.errors import NotFoundError, RateLimitedError
from kanban.i18n import _
from kanban.live import LiveHub
from kanban.models import Deal
from kanban.services.deals import get_deal
from kanban.web.access import access
from kanban.web.api.schema import INT32_MAX
from kanban.web.deps import CurrentUser, in_tx, web_user
from kanban.web.forms import optional_int

PING_SECONDS = 15


@access("deal:read")
async def events(request: Request) -> Response:
    """GET /events[?pipeline_id=|?deal_id=|?chat_id=] — server-sent "board", "deal" and "chat" notices for
    that page, and "notifications" notices for the signed-in user (the only ones without a page)."""
    pipeline_id = optional_int(request.query_params, "pipeline_id")
    deal_id = optional_int(request.query_params, "deal_id")
    chat_id = optional_int(request.query_params, "chat_id")

    def check(session: Session) -> tuple[CurrentUser, bool]:
        user = web_user(request, session)
        # A board, deal or chat the user may not read is a 404 here too (no stream that reveals it exists).
        if pipeline_id is not None:
            policy.require_pipeline(session, user, pipeline_id)
        if deal_id is not None:
            if not 0 < deal_id <= INT32_MAX:  # ids beyond the column's range do not exist (and would not bind)
                raise NotFoundError(_("deal %(deal_id)s not found", deal_id=deal_id))
            policy.require(session, user, "read", get_deal(session, deal_id))
        if chat_id is not None:
            records.get_chat(session, user, chat_id)
        return CurrentUser.of(user), policy.grant(session, user).reads_everything

    user, reads_everything = await in_tx(request, check)
    hub: LiveHub = request.app.state.runtime.extras["live"]
    limit = request.app.state.runtime.settings.max_streams_per_user
    sub = hub.subscribe(pipeline_id=pipeline_id, deal_id=deal_id, user_id=user.id, chat_id=chat_id, limit=limit)
    if sub is None:
        # Each stream holds a connection and a queue: a per-user cap keeps one account from exhausting them.
        raise RateLimitedError(_("too many open live streams (at most %(limit)s per user); close a tab", limit=limit),
                               retry_after=PING_SECONDS)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        try:
            # An immediate event tells the page the stream is live (and tests know it is subscribed).
            yield {"event": "ready", "data": "{}"}
            while True:
                notice = await sub.get()
                if notice.get("type") == "close":
                    return
                if not reads_everything:
                    notice = await in_tx(request, readable_notice, user, notice)
                    if notice is None:
                        continue
                yield {"event": notice["type"], "data": json.dumps(notice)}
        finally:
            hub.unsubscribe(sub)

    return EventSourceResponse(stream(), ping=PING_SECONDS, headers={"Cache-Control": "no-store"})


def readable_notice(session: Session, user: policy.Person, notice: dict[str, Any]) -> dict[str, Any] | None:
    """The notice narrowed to deals the user may read now, or None when it is about none of them."""
    if notice.get("type") not in ("board", "deal"):
        return notice
    ids = notice.get("deal_ids") if notice.get("type") == "board" else [notice.get("deal_id")]
    ids = [i for i in ids or [] if isinstance(i, int)]
    stmt = policy.readable_deals(session, user, select(Deal.id).where(Deal.id.in_(ids)))
    readable = set(session.scalars(stmt))
    if not readable:
        return None
    if notice["type"] == "board":
        return {**notice, "deal_ids": sorted(readable)}
    return notice


routes = [Route("/events", events, methods=["GET"])]
