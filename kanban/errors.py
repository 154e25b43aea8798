"""Domain errors; the web edge translates them once into the API error shape."""

from __future__ import annotations

from typing import Any


class KanbanError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class BadRequestError(KanbanError):
    code, status = "bad_request", 400


class AuthRequiredError(KanbanError):
    code, status = "unauthorized", 401


class PermissionDeniedError(KanbanError):
    code, status = "forbidden", 403


class NotFoundError(KanbanError):
    code, status = "not_found", 404


class ConflictError(KanbanError):
    """Optimistic-lock or stale-move conflict; `extra['current']` may hold the current state."""

    code, status = "conflict", 409


class ValidationError(KanbanError):
    code, status = "validation_error", 422


class RateLimitedError(KanbanError):
    code, status = "rate_limited", 429


class PayloadTooLargeError(KanbanError):
    code, status = "payload_too_large", 413


class UnavailableError(KanbanError):
    """A transient failure (database connection lost, serialization failure): the client should retry."""

    code, status = "unavailable", 503
