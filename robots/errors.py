"""Robot errors: permanent ones fail a run at once, transient ones are retried with backoff."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kanban.errors import ConflictError, ValidationError
from kanban.i18n import _


class RobotError(Exception):
    """Base of robot errors."""


class PermanentError(RobotError):
    """Retrying cannot help (bad settings, no email address): the run fails now."""


class TransientError(RobotError):
    """Network trouble or a 5xx: the run is retried with backoff."""


class LoopBlockedError(RobotError):
    """The loop guard refused the robot's move: the run ends `blocked`, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def core_refusals(*, with_fields: bool = True) -> Iterator[None]:
    """Turn a core service's refusal into a run error: invalid changes fail now, version conflicts retry."""
    try:
        yield
    except ValidationError as exc:
        raise PermanentError(_("%(message)s: %(fields)s",
                                message=exc.message, fields=exc.fields) if with_fields else exc.message) from exc
    except ConflictError as exc:
        raise TransientError(exc.message) from exc
