"""A local Web Push service for tests: a browser-like subscription (its own P-256 key and auth secret) and an
endpoint that checks the VAPID JWT's ES256 signature against the server's public key, then decrypts the
aes128gcm payload with the subscription's private key, as a real push service plus browser would."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fake_http import Seen


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PushEndpoint:
    """Verifies and decrypts what arrives; `status` lets a test play a gone (410) or failing service."""

    server_public_key: str  # the CRM's VAPID key, as GET /push/vapid-public-key gives it
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    status: int = 201

    def subscription(self, url: str) -> dict[str, Any]:
        """The JSON a browser's PushSubscription.toJSON() gives for this endpoint."""
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": url, "expirationTime": None, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def respond(self, seen: Seen) -> tuple[int, Any]:
        """The fake_http responder: 401 for a bad VAPID header, 400 for an undecryptable body."""
        problem = self._vapid_problem(seen.headers.get("authorization", ""), seen.headers.get("host", ""))
        if problem:
            self.rejected.append(problem)
            return 401, {"error": problem}
        if seen.headers.get("content-encoding") != "aes128gcm" or not seen.headers.get("ttl"):
            self.rejected.append("headers")
            return 400, {"error": "Content-Encoding aes128gcm and TTL required"}
        try:
            plain = http_ece.decrypt(seen.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        except Exception as exc:  # noqa: BLE001 - any failure to decrypt is the sender's fault here
            self.rejected.append(f"decrypt: {exc}")
            return 400, {"error": "cannot decrypt"}
        if self.status >= 300:
            return self.status, None
        self.received.append(json.loads(plain))
        return 201, None

    def _vapid_problem(self, header: str, host: str) -> str | None:
        scheme, _, params = header.partition(" ")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme != "vapid" or "t" not in parts or "k" not in parts:
            return "no vapid t=,k= authorization"
        if parts["k"] != self.server_public_key:
            return "k is not the server's public key"
        head, claims, signature = parts["t"].split(".")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(parts["k"]))
        raw = unb64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad ES256 signature"
        body = json.loads(unb64(claims))
        if json.loads(unb64(head)).get("alg") != "ES256" or body.get("aud") != f"http://{host}":
            return f"bad JWT header or audience {body.get('aud')!r}"
        if not str(body.get("sub", "")).startswith(("mailto:", "https:")):
            return "sub is not a contact URI"
        return None
