"""Failures alert admins: a run that ends `failed` notifies every active admin (kind `failure`: the bell and the
daily digest email by default, through kanban.notifications' channels) instead of waiting to be found."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kanban import clock
from kanban.i18n import _
from kanban.mail import one_line
from kanban.models import Deal, User
from kanban.notifications import deliver_notification
from kanban.services.users import SYSTEM_EMAIL
from robots.models import Automation, Robot, RobotRun


def alert_admins(runtime: Any, session: Session, run: RobotRun, robot: Robot | None) -> int:
    """Notify each active admin of a failed run, in the transaction that records the failure; how many."""
    deal = session.get(Deal, run.deal_id) if run.deal_id is not None else None
    name = robot.name if robot is not None else run.robot_key
    owner = session.get(Automation, robot.automation_id) if robot is not None and robot.automation_id else None
    what = _("Automation “%(owner)s” › “%(name)s”", owner=owner.name, name=name) if owner else \
        _("Robot “%(name)s”", name=name)
    if run.deal_id is None:  # an automation's action on a person, an organization or a deleted deal
        text = one_line(_("%(what)s failed: %(error)s", what=what, error=run.error or "?"), 500)
    else:
        text = one_line(_("%(what)s failed on deal “%(deal)s”: %(error)s", what=what,
                          deal=deal.title if deal else run.deal_id, error=run.error or "?"), 500)
    mailer = runtime.extras.get("services", {}).get("mailer")
    admins = list(session.scalars(select(User).where(User.role == "admin", User.active.is_(True),
                                                     User.email != SYSTEM_EMAIL).order_by(User.id)))
    at = clock.now()
    for admin in admins:
        # run_id stays None: a retried run that fails again alerts again (rows are unique per run and user).
        deliver_notification(session, runtime.settings, mailer, user=admin, kind="failure", text=text, at=at,
                             deal_id=run.deal_id)
    return len(admins)
