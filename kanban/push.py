"""Web Push (RFC 8030/8291/8292): VAPID keys, browser subscriptions, and sending one encrypted message."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban.channels import PushSubscription
from kanban.config import Settings
from kanban.errors import NotFoundError, ValidationError
from kanban.i18n import _
from kanban.outbound import Http, OutboundError, check_status, public_addresses

TTL_SECONDS = 24 * 3600  # a push not delivered to the device within a day is dropped by the push service
GONE = (404, 410)  # the push service says the subscription no longer exists


def b64url(data: bytes) -> str:
    """Unpadded base64url, the encoding Web Push uses for keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError when it is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


class Vapid:
    """The server's VAPID identity: from KANBAN_VAPID_PRIVATE_KEY, else a key generated once in the data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def key(self) -> Vapid02:
        """The signing key (several processes on several machines need the same one: set it in the env)."""
        raw = self.settings.vapid_private_key
        if raw:
            return Vapid02.from_pem(raw.encode()) if "BEGIN" in raw else Vapid02.from_raw(raw.encode())
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.data_dir / ".kanban-vapid.pem"
        if path.exists():
            return Vapid02.from_pem(path.read_bytes())
        key = Vapid02()
        key.generate_keys()
        path.write_bytes(key.private_pem())
        path.chmod(0o600)
        return key

    @property
    def public_key(self) -> str:
        """The applicationServerKey browsers subscribe with: the uncompressed P-256 point, base64url."""
        point = self.key.public_key.public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    @property
    def subject(self) -> str:
        """Who the push service may contact about our messages (mailto: or https:)."""
        return self.settings.vapid_subject or f"mailto:{self.settings.mail_from}"

    def headers(self, endpoint: str, at: datetime) -> dict[str, str]:
        """The `Authorization: vapid t=<JWT>,k=<public key>` header for one push service origin."""
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": self.subject,
                  "exp": int((at + timedelta(hours=12)).timestamp())}
        return dict(self.key.sign(claims))


def subscribe(session: Session, settings: Settings, user_id: int, data: Any, user_agent: str = "") -> PushSubscription:
    """Store a browser's subscription JSON for a user (the same endpoint again replaces the old row)."""
    endpoint, p256dh, auth = _parse(data, settings.push_allow_private)
    row = session.scalars(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
    if row is None:
        row = PushSubscription(endpoint=endpoint, user_id=user_id, p256dh=p256dh, auth=auth)
        session.add(row)
    row.user_id, row.p256dh, row.auth, row.user_agent = user_id, p256dh, auth, user_agent[:300]
    session.flush()
    return row


def unsubscribe(session: Session, user_id: int, subscription_id: int) -> None:
    """Remove one of the user's subscriptions (404 for anyone else's)."""
    row = session.get(PushSubscription, subscription_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError(_("push subscription %(subscription_id)s not found", subscription_id=subscription_id))
    session.delete(row)


def _parse(data: Any, allow_private: bool) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    keys = data.get("keys") if isinstance(data, dict) else None
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts is None or parts.scheme not in schemes or not parts.hostname or len(endpoint) > 2000:
        errors["endpoint"] = _("the push service's https URL")
    keys = keys if isinstance(keys, dict) else {}
    for name, size in (("p256dh", 65), ("auth", 16)):
        try:
            ok = isinstance(keys.get(name), str) and len(unb64url(keys[name])) == size
        except ValueError:
            ok = False
        if not ok:
            errors[f"keys.{name}"] = _("base64url of %(size)s bytes", size=size)
    if errors:
        raise ValidationError(_("not a Web Push subscription"), errors)
    return str(endpoint), keys["p256dh"], keys["auth"]


def encrypt(subscription: PushSubscription, payload: dict[str, Any]) -> bytes:
    """The aes128gcm body (RFC 8291) only that browser can read: ECDH with its key, its auth secret."""
    sender = ec.generate_private_key(ec.SECP256R1())
    return http_ece.encrypt(json.dumps(payload).encode(), private_key=sender, dh=unb64url(subscription.p256dh),
                            auth_secret=unb64url(subscription.auth), version="aes128gcm")


def send(http: Http, vapid: Vapid, subscription: PushSubscription, payload: dict[str, Any], at: datetime,
         *, allow_private: bool) -> None:
    """POST one encrypted message to the subscription's push service; OutboundError (status 404/410 = gone)."""
    parts = urlsplit(subscription.endpoint)
    if not allow_private:
        public_addresses(parts.hostname or "", parts.port or 443)
    headers = {**vapid.headers(subscription.endpoint, at), "TTL": str(TTL_SECONDS), "Urgency": "normal",
               "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream"}
    response = http.request("POST", subscription.endpoint, content=encrypt(subscription, payload), headers=headers)
    if response.status_code in GONE:
        raise OutboundError(f"push subscription gone (HTTP {response.status_code})", transient=False,
                            status=response.status_code)
    check_status(response, "push service")
