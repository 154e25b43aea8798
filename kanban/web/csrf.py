"""CSRF protection for every state-changing browser request (session token, form field or header)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kanban.i18n import _

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
# Inbound endpoints are authenticated by signatures or tokens, and the bearer-token API uses no cookies.
EXEMPT_PREFIXES = ("/hooks/", "/api/")
MAX_FORM_BYTES = 2 * 1024 * 1024


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


class CSRFMiddleware:
    """Rejects unsafe requests from another origin (Origin / Sec-Fetch-Site), and those whose X-CSRF-Token header
    or csrf_token field does not match the session."""

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_origin = _origin_of(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        headers = Headers(scope=scope)
        if self._cross_origin(scope, headers):
            response = PlainTextResponse(_("Cross-origin request refused."), status_code=403)
            await response(scope, receive, send)
            return
        given = headers.get("x-csrf-token")
        body = b""
        if given is None:
            body, too_big = await _read_body(receive)
            if too_big:
                await PlainTextResponse(_("Request body too large"), 413)(scope, receive, send)
                return
            given = _form_token(headers.get("content-type", ""), body)
            receive = _replay(body)
        if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
            response = PlainTextResponse(
                "CSRF check failed: reload the page and try again.", status_code=403
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


    def _cross_origin(self, scope: Scope, headers: Headers) -> bool:
        """True when the browser says the request comes from another site. Browsers send Origin on every
        state-changing request; without one (old clients, tools) the CSRF token alone decides."""
        if headers.get("sec-fetch-site", "") == "cross-site":
            return True
        origin = headers.get("origin")
        if origin is None:
            return False
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        return origin.lower() not in (own, self.public_origin)


def _origin_of(url: str) -> str:
    scheme, _unused, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".lower() if rest else ""


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _form_token(content_type: str, body: bytes) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("csrf_token")
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        marker = b'name="csrf_token"'
        at = body.find(marker)
        if at < 0:
            return None
        start = body.find(b"\r\n\r\n", at)
        end = body.find(b"\r\n", start + 4)
        return body[start + 4 : end].decode("latin-1") if start > 0 and end > 0 else None
    return None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
