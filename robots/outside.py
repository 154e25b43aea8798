"""Kinds' access to the outside-world services (mailer, SMS, payments, HTTP) and their error classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kanban.i18n import _
from kanban.outbound import OutboundError
from robots.errors import PermanentError, RobotError, TransientError

if TYPE_CHECKING:
    from robots.context import RunContext


def service(ctx: RunContext, name: str) -> Any:
    """A service from the run context; its absence is a configuration error, not worth retrying."""
    found = ctx.services.get(name)
    if found is None:
        raise PermanentError(_("the %(name)s service is not configured in this process", name=name))
    return found


def robot_error(exc: OutboundError) -> RobotError:
    """The robot error for an outside failure: transient ones are retried, the rest fail the run."""
    return TransientError(str(exc)) if exc.transient else PermanentError(str(exc))
