"""The one place that turns driver and decoder errors into clear 4xx (and transient database errors into 503).

Values a client sent can still fail where they meet the database or an encoder: an id beyond the column's
range (DataError on PostgreSQL, OverflowError on SQLite), a lone surrogate (UnicodeEncodeError), a NUL
character (ValueError from the driver). The transaction has rolled back by then, so nothing was written.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, OperationalError, StatementError

from kanban.errors import BadRequestError, KanbanError, UnavailableError, ValidationError
from kanban.i18n import _

RETRY_AFTER_SECONDS = 2
# SQLSTATE classes of transient failures: serialization failure, deadlock, connection exceptions, lock timeouts,
# admin shutdown / cannot connect now.
TRANSIENT_SQLSTATES = ("40001", "40P01", "08", "55P03", "57P01", "57P02", "57P03")
TRANSIENT_SQLITE = ("database is locked", "database is busy")
CLIENT_ERRORS = (OverflowError, UnicodeEncodeError, UnicodeDecodeError, RecursionError)


def translate(exc: BaseException) -> KanbanError | None:
    """The domain error a driver/decoder error stands for, or None when it is a real server error."""
    if isinstance(exc, OperationalError) or _transient(exc):
        if _transient(exc):
            return UnavailableError(_("the database is briefly unavailable; try again"),
                                    retry_after=RETRY_AFTER_SECONDS)
        return None
    if isinstance(exc, DataError):
        return ValidationError(_("a value is out of range or invalid for its field"), {"value": _first_line(exc)})
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # A bind parameter the driver refused to encode (no query was sent).
        return translate(exc.orig) if exc.orig is not None else None
    if isinstance(exc, RecursionError):
        return BadRequestError(_("the request is nested too deeply"))
    if isinstance(exc, CLIENT_ERRORS):
        return BadRequestError(_("a value cannot be stored: out of range or not valid text"),
                               {"value": type(exc).__name__})
    if isinstance(exc, ValueError) and "NUL" in str(exc):
        return ValidationError(_("text must not contain NUL characters"), {"value": _("contains a NUL character")})
    return None


def _transient(exc: BaseException) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or ""
    if state and state.startswith(TRANSIENT_SQLSTATES):
        return True
    return isinstance(exc, OperationalError) and any(t in str(exc.orig) for t in TRANSIENT_SQLITE)


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0][:200] if exc.orig is not None else _("invalid value")
