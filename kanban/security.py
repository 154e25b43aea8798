"""Password hashing (argon2), API tokens (stored as SHA-256) and signed values."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

_hasher = PasswordHasher()


def use_cheap_hashing() -> None:
    """Hash new passwords with minimal argon2 cost. For test suites only: they create thousands of users, and
    each real hash costs about 0.1 s of CPU. Verification reads the cost from the hash itself."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; never raises on a bad or missing hash."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> tuple[str, str]:
    """A fresh token and the hash stored for it."""
    token = "kb_" + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def signer(secret: str, salt: str) -> URLSafeTimedSerializer:
    """A serializer for signed, optionally expiring tokens (tracking links, pay pages)."""
    return URLSafeTimedSerializer(secret, salt=salt)


def unsign(secret: str, salt: str, token: str, max_age: int | None = None) -> object | None:
    """The value inside a signed token, or None when forged or expired."""
    try:
        return signer(secret, salt).loads(token, max_age=max_age)
    except BadSignature:
        return None
