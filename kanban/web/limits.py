"""Request limits applied before any route: bytes actually read (chunked bodies included) and NUL characters.

Every route reads its body through this middleware's `receive`, so the cap holds whatever the route does with
the body (request.body(), request.form(), the CSRF check) and whether or not Content-Length is sent.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kanban.errors import BadRequestError, PayloadTooLargeError
from kanban.i18n import _

API_MAX_BYTES = 1024 * 1024
FORM_MAX_BYTES = 2 * 1024 * 1024
# Inbound hooks read with their own, smaller cap (triggers.intake.read_capped) and answer in their own shape.
OWN_CAP_PREFIXES = ("/hooks/",)
NUL_ESCAPES = (b"%00", b"\x00")


def cap_for(path: str) -> int | None:
    """The most bytes a request body to this path may have (None: the route enforces its own cap)."""
    if path.startswith(OWN_CAP_PREFIXES):
        return None
    return API_MAX_BYTES if path.startswith("/api/") else FORM_MAX_BYTES


class RequestLimitsMiddleware:
    """413 once a body passes its cap; 400 for NUL characters in form fields or page query strings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = cap_for(path)
        headers = Headers(scope=scope)
        refusal = _refusal(scope, headers, limit)
        if refusal is not None:
            await _answer(path, refusal)(scope, receive, send)
            return
        if limit is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def watch_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        try:
            await self.app(scope, _capped(receive, limit, form), watch_send)
        except (PayloadTooLargeError, BadRequestError) as exc:
            # Raised inside a middleware that read the body (e.g. the CSRF check) rather than in a route.
            if started:
                raise
            await _answer(path, exc)(scope, receive, send)


def _refusal(scope: Scope, headers: Headers, limit: int | None) -> PayloadTooLargeError | BadRequestError | None:
    declared = headers.get("content-length", "")
    if limit is not None and declared.isdigit() and int(declared) > limit:
        return PayloadTooLargeError(_("request body larger than %(limit)s bytes", limit=limit))
    query: bytes = scope.get("query_string", b"")
    if not scope["path"].startswith("/api/") and any(n in query.lower() for n in NUL_ESCAPES):
        # The JSON API answers NUL in its query parameters itself (422, naming the parameter).
        return BadRequestError(_("the address contains a NUL character"))
    return None


def _capped(receive: Receive, limit: int, form: bool) -> Receive:
    seen = 0
    tail = b""

    async def read() -> Message:
        nonlocal seen, tail
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise PayloadTooLargeError(_("request body larger than %(limit)s bytes", limit=limit))
            # PostgreSQL text cannot hold U+0000: refuse it in any form field before a route stores it.
            if form and any(n in (tail + chunk).lower() for n in NUL_ESCAPES):
                raise BadRequestError(_("a form field contains a NUL character"))
            tail = chunk[-2:]
        return message

    return read


def _answer(path: str, exc: PayloadTooLargeError | BadRequestError) -> Response:
    if path.startswith("/api/"):
        body = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
        return JSONResponse(body, status_code=exc.status)
    return PlainTextResponse(exc.message, status_code=exc.status)
