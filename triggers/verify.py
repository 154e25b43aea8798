"""Signature checks for inbound calls: Stripe-Signature and Standard Webhooks, both tolerant of rotation."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kanban import strictjson

STRIPE_TOLERANCE = 300


class SignatureError(Exception):
    """The call is not authentic (bad or missing signature, stale or future timestamp)."""


class PayloadError(ValueError):
    """The call is authentic but its body is not a JSON object."""


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    """A Stripe-Signature header value for a body (used by tests, the bench and fake providers)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_stripe(body: bytes, header: str | None, secrets: list[str], now: float) -> dict[str, Any]:
    """The parsed event when some v1 signature matches some configured secret within the tolerance."""
    if not secrets:
        raise SignatureError("no Stripe webhook secret is configured")
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed Stripe-Signature header")
    if abs(now - timestamp) > STRIPE_TOLERANCE:
        raise SignatureError("timestamp outside the 300 s tolerance")
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    if not any(hmac.compare_digest(e, given) for e in expected for given in signatures):
        raise SignatureError("no signature matches")
    return _json_object(body)


def verify_standard(body: bytes, headers: dict[str, str], secrets: list[str]) -> dict[str, Any]:
    """The parsed body when the Standard Webhooks signature matches one of the secrets (±5 min window)."""
    if not secrets:
        raise SignatureError("this trigger has no secret")
    last = "no signature matches"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            last = str(exc)
            continue
        except ValueError:
            # Malformed base64 or a signature list without commas: the package raises ValueError.
            last = "malformed webhook-signature header"
            continue
        return _json_object(body)
    raise SignatureError(last)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = strictjson.loads(body)
    except strictjson.JSONValueError as exc:
        raise PayloadError(f"body is not acceptable JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError("body is not a JSON object")
    return value
