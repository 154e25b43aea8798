"""Public inbound endpoints: payment and trigger webhooks, open pixel, tracked links, the pay page."""

from __future__ import annotations

import base64
import time
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from kanban.i18n import _
from kanban.tracking import parse_click_token
from kanban.web.access import access
from kanban.web.deps import in_tx
from kanban.web.templating import render
from triggers.config import kind_of, valid_secrets
from triggers.inbound import db_id
from triggers.intake import BodyTooLargeError, IntakeOptions, RateLimiter, client_key, read_capped
from triggers.models import Trigger
from triggers.recording import (
    invoice_by_token,
    record_click,
    record_embedded_payment,
    record_open,
    record_stripe,
    record_webhook,
)
from triggers.verify import PayloadError, SignatureError, verify_standard, verify_stripe

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "fields": {}}}, status_code=status)


def _parts(request: Request) -> tuple[Any, IntakeOptions, RateLimiter]:
    runtime = request.app.state.runtime
    return runtime, runtime.extras["triggers.options"], runtime.extras["triggers.limiter"]


async def _guarded_body(request: Request) -> bytes | JSONResponse:
    _unused, options, limiter = _parts(request)
    if not limiter.allow(client_key(request)):
        return _error(429, "rate_limited", _("too many requests; slow down"))
    try:
        return await read_capped(request, options.max_body)
    except BodyTooLargeError:
        return _error(413, "payload_too_large", _("body larger than %(max_body)s bytes", max_body=options.max_body))


@access("public")
async def stripe_hook(request: Request) -> Response:
    """Stripe-compatible payment webhook: verify over the raw body, store once, 200."""
    body = await _guarded_body(request)
    if isinstance(body, Response):
        return body
    runtime, _parts2, _parts3 = _parts(request)
    try:
        event = verify_stripe(body, request.headers.get("stripe-signature"), runtime.settings.stripe_secrets,
                              time.time())
    except (SignatureError, PayloadError) as exc:
        return _error(400, "bad_signature", str(exc))
    if not isinstance(event.get("id"), str) or not event["id"]:
        return _error(400, "bad_request", _("event has no id"))
    new_id = await in_tx(request, record_stripe, runtime.extras["triggers.enqueue"], event)
    return JSONResponse({"received": True, "duplicate": new_id is None})


def _deal_ref(body: dict[str, Any]) -> int | None:
    deal_id = body.get("deal_id")
    if deal_id is not None:
        return db_id(deal_id)
    target = body.get("target")
    if isinstance(target, str) and target.upper().startswith("DEAL_") and target[5:].isdigit():
        return db_id(int(target[5:]))
    return None


def _secrets_of(session: Session, trigger_id: int) -> list[str] | None:
    trigger = session.get(Trigger, trigger_id) if db_id(trigger_id) else None
    if trigger is None or not kind_of(trigger.kind).has_secret:
        return None
    return valid_secrets(trigger)


@access("public")
async def trigger_hook(request: Request) -> Response:
    """An inbound_webhook trigger's URL: Standard Webhooks signature, body {"deal_id": N}; 202."""
    body = await _guarded_body(request)
    if isinstance(body, Response):
        return body
    trigger_id = request.path_params["trigger_id"]
    secrets = await in_tx(request, _secrets_of, trigger_id)
    if secrets is None:
        return _error(404, "not_found", _("no such webhook trigger"))
    try:
        payload = verify_standard(body, dict(request.headers), secrets)
    except SignatureError as exc:
        return _error(401, "bad_signature", str(exc))
    except PayloadError as exc:
        return _error(400, "bad_request", str(exc))
    deal_id = _deal_ref(payload)
    if deal_id is None:
        return _error(400, "bad_request", 'body must carry {"deal_id": N} or {"target": "DEAL_N"}')
    runtime, _unused, _unused = _parts(request)
    new_id = await in_tx(request, record_webhook, runtime.extras["triggers.enqueue"], trigger_id,
                         request.headers["webhook-id"], deal_id)
    return JSONResponse({"accepted": True, "duplicate": new_id is None}, status_code=202)


@access("public")
async def open_pixel(request: Request) -> Response:
    """Always the same 1×1 GIF; a known token records the open (rate-limited clients are just not counted)."""
    runtime, options, limiter = _parts(request)
    if limiter.allow(client_key(request)):
        await in_tx(request, record_open, runtime.extras["triggers.enqueue"], request.path_params["token"],
                    options.machine_open_seconds)
    return Response(GIF, media_type="image/gif", headers=NO_STORE)


@access("public")
async def tracked_link(request: Request) -> Response:
    """Redirect to the stored original URL of a signed click token; forged or unknown tokens get 404."""
    runtime, _unused, limiter = _parts(request)
    if not limiter.allow(client_key(request)):
        return PlainTextResponse(_("Too many requests"), status_code=429)
    parsed = parse_click_token(runtime.settings.secret, request.path_params["token"])
    if parsed is None:
        return PlainTextResponse(_("Unknown link"), status_code=404)
    url = await in_tx(request, record_click, runtime.extras["triggers.enqueue"], parsed[0], parsed[1])
    if url is None:
        return PlainTextResponse(_("Unknown link"), status_code=404)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


def _demo_payments(request: Request) -> bool:
    # Invoices of the built-in provider are payable only while it runs (demo mode), never after.
    return bool(request.app.state.runtime.settings.payments_kind == "demo")


@access("public")
async def pay_page(request: Request) -> Response:
    """The embedded (demo) provider's pay page: amount, description and a Pay button (no login)."""
    if not _demo_payments(request):
        return PlainTextResponse(_("Unknown payment link"), status_code=404, headers=NO_STORE)
    invoice = await in_tx(request, invoice_by_token, request.path_params["token"])
    ctx = {"invoice": invoice, "submitted": request.query_params.get("submitted") == "1"}
    return render(request, "triggers/pay.html", ctx, headers=NO_STORE)


@access("public")
async def pay_complete(request: Request) -> Response:
    """Where the Stripe-compatible provider sends the payer back; the webhook, not this page, marks it paid."""
    return render(request, "triggers/pay_complete.html", {}, headers=NO_STORE)


@access("public")
async def pay_submit(request: Request) -> Response:
    """Pay: stored as an "embedded" payment event and processed like a provider webhook."""
    runtime, _unused, limiter = _parts(request)
    if not _demo_payments(request):
        return PlainTextResponse(_("Unknown payment link"), status_code=404, headers=NO_STORE)
    if not limiter.allow(client_key(request)):
        return PlainTextResponse(_("Too many requests"), status_code=429)
    token = request.path_params["token"]
    await in_tx(request, record_embedded_payment, runtime.extras["triggers.enqueue"], token)
    return RedirectResponse(f"/pay/{token}?submitted=1", status_code=303)


routes = [
    Route("/hooks/payments/stripe", stripe_hook, methods=["POST"]),
    Route("/hooks/triggers/{trigger_id:int}", trigger_hook, methods=["POST"]),
    Route("/t/o/{token}.gif", open_pixel, methods=["GET"]),
    Route("/t/c/{token}", tracked_link, methods=["GET"]),
    Route("/pay/complete", pay_complete, methods=["GET"]),
    Route("/pay/{token}", pay_page, methods=["GET"]),
    Route("/pay/{token}", pay_submit, methods=["POST"]),
]
