"""Robot runs are created when a deal enters a stage and cancelled when it leaves, in the move's transaction.

Runs come in groups: a stage entry's runs, or an automation execution's (robots.matching); a group's runs share
chains (after_previous), outputs and a message."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kanban import clock
from kanban.db import on_commit
from kanban.errors import NotFoundError, ValidationError
from kanban.events import DealMoved
from kanban.i18n import _
from kanban.models import Deal
from robots.models import Robot, RobotRun

PENDING = ("scheduled", "waiting")
LEFT_STAGE = "deal left the stage"
MAX_DELAY_SECONDS = 10 * 366 * 86400  # keeps due_at a valid datetime whatever the stored delay says
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

# Set by robots.wiring.install: sends batches of run ids to the workers, one message per batch (after
# commit). Without it the dispatcher still finds due runs in the database, only later.
_sender: Callable[[list[list[int]]], None] | None = None
MAX_BATCH = 20  # runs of one stage entry per message; more robots in a stage make several messages


def configure(sender: Callable[[list[list[int]]], None] | None) -> None:
    """Install the function that sends batches of run ids to the workers."""
    global _sender
    _sender = sender


def send_after_commit(session: Session, runs: list[RobotRun]) -> None:
    """Mark due runs as enqueued and send their ids once the transaction commits.

    Call it before the flush that writes the runs, so enqueued_at goes out with the same statement;
    ids are read after the commit. Runs of one stage entry travel in one message, in chain order.
    """
    if not runs or _sender is None:
        return
    at = clock.now()
    for run in runs:
        run.enqueued_at = at
    sender = _sender
    on_commit(session, lambda: sender(batches((run.id, group_key(run)) for run in runs)))


def group_key(run: Any) -> tuple[str, int]:
    """What a run's batch and chain are keyed by: its stage entry, or its automation execution."""
    if run.execution_id is not None:
        return ("execution", run.execution_id)
    return ("entry", run.stage_entry_id)


def same_group(run: Any) -> Any:
    """A WHERE clause selecting the runs of the run's group (stage entry or execution)."""
    if run.execution_id is not None:
        return RobotRun.execution_id == run.execution_id
    return RobotRun.stage_entry_id == run.stage_entry_id


def left_stage(run: Any, deal: Deal | None) -> bool:
    """A stage robot's run whose deal is gone or has left that stage entry (automation runs never leave one)."""
    if deal is None:
        return True
    return run.stage_entry_id is not None and deal.current_entry_id != run.stage_entry_id


def batches(runs: Iterable[tuple[int, Hashable]]) -> list[list[int]]:
    """Group (run id, group key) pairs into per-group batches of at most MAX_BATCH ids, order kept."""
    grouped: dict[Hashable, list[list[int]]] = {}
    for run_id, key in runs:
        chunks = grouped.setdefault(key, [[]])
        if len(chunks[-1]) >= MAX_BATCH:
            chunks.append([])
        chunks[-1].append(run_id)
    return [chunk for chunks in grouped.values() for chunk in chunks]


def _field_moment(deal: Deal | None, name: str) -> datetime | None:
    """A deal date/datetime field as an aware UTC datetime (dates at 00:00 UTC), or None."""
    if deal is None or not name:
        return None
    name = name.removeprefix("deal.fields.")
    raw = (deal.fields or {}).get(name)
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text[:10]), time())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def due_at(delay: dict[str, Any] | None, deal: Deal | None, now: datetime) -> datetime:
    """When a robot with this delay is due, counted from `now`; a moment already past means now.

    before_field/after_field with an empty or unreadable date field run at once (as Bitrix24 does):
    the admin can guard such robots with a "not empty" condition.
    """
    delay = delay or {"type": "now"}
    kind = delay.get("type", "now")
    try:
        seconds = max(0, int(float(delay.get("seconds") or 0)))
    except (TypeError, ValueError, OverflowError):
        seconds = 0  # robots.config rejects such delays on save; never let one break a move
    seconds = min(seconds, MAX_DELAY_SECONDS)
    if kind == "after":
        return now + timedelta(seconds=seconds)
    if kind in ("before_field", "after_field"):
        moment = _field_moment(deal, str(delay.get("field") or ""))
        if moment is None:
            return now
        sign = -1 if kind == "before_field" else 1
        return max(now, moment + sign * timedelta(seconds=seconds))
    if kind == "at_time":
        match = _TIME.match(str(delay.get("time") or ""))
        if not match:
            return now
        target = now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
        return target if target >= now else target + timedelta(days=1)
    return now


def cancel_pending(session: Session, entry_id: int, reason: str = LEFT_STAGE) -> int:
    """Cancel the scheduled and waiting runs of a stage entry; returns how many."""
    result = session.execute(
        update(RobotRun)
        .where(RobotRun.stage_entry_id == entry_id, RobotRun.status.in_(PENDING))
        .values(status="cancelled", reason=reason, finished_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def on_deal_moved(session: Session, event: DealMoved) -> None:
    """Cancel the previous entry's pending runs and create one run per active robot of the new stage
    (none when the move was made without running robots)."""
    if event.previous_entry_id is not None:
        cancel_pending(session, event.previous_entry_id)
    if not event.run_robots:
        return
    robots = list(session.scalars(
        select(Robot).where(Robot.stage_id == event.to_stage_id, Robot.active.is_(True))
        .order_by(Robot.position, Robot.id)
    ))
    if not robots:
        return
    deal = session.get(Deal, event.deal_id)
    now = clock.now()
    runs = []
    for index, robot in enumerate(robots):
        waiting = robot.after_previous and index > 0
        runs.append(RobotRun(
            robot_id=robot.id, deal_id=event.deal_id, stage_id=event.to_stage_id, stage_entry_id=event.entry_id,
            kind=robot.kind, robot_key=robot.key, position=index, status="waiting" if waiting else "scheduled",
            due_at=None if waiting else due_at(robot.delay, deal, now), attempts=0, outputs={},
            cause=list(event.cause), created_at=now,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()


def _deals_without_run(robot: Robot) -> Any:
    """Deals now in the robot's stage whose current stage entry has no run of this robot."""
    has_run = select(RobotRun.id).where(RobotRun.robot_id == robot.id,
                                        RobotRun.stage_entry_id == Deal.current_entry_id)
    return select(Deal).where(Deal.stage_id == robot.stage_id, Deal.current_entry_id.is_not(None),
                              ~has_run.exists())


def _robot(session: Session, robot_id: int) -> Robot:
    robot = session.get(Robot, robot_id)
    if robot is None:
        raise NotFoundError(_("robot %(robot_id)s not found", robot_id=robot_id))
    if robot.stage_id is None:
        # An automation's action runs per event; there is no "deals already here" to run it for.
        raise ValidationError(_("only a stage's robots run for the deals already in it"),
                              {"robot_id": _("this robot belongs to an automation")})
    return robot


def count_existing(session: Session, robot_id: int) -> int:
    """How many deals already in the robot's stage would get a run from schedule_existing."""
    robot = _robot(session, robot_id)
    return session.scalar(select(func.count()).select_from(_deals_without_run(robot).subquery())) or 0


def schedule_existing(session: Session, robot_id: int) -> int:
    """Admin action "run for the deals already in this stage": one run per deal that has none; returns the count."""
    robot = _robot(session, robot_id)
    if not robot.active:
        raise ValidationError(_("the robot is disabled"), {"active": _("enable the robot first")})
    now = clock.now()
    runs = []
    for deal in session.scalars(_deals_without_run(robot).order_by(Deal.id)):
        last = session.scalar(select(func.max(RobotRun.position))
                              .where(RobotRun.stage_entry_id == deal.current_entry_id))
        # Placed after the entry's existing runs and never "waiting": the robots above have already run.
        runs.append(RobotRun(
            robot_id=robot.id, deal_id=deal.id, stage_id=robot.stage_id, stage_entry_id=deal.current_entry_id,
            kind=robot.kind, robot_key=robot.key, position=(last if last is not None else -1) + 1,
            status="scheduled", due_at=due_at(robot.delay, deal, now), attempts=0, outputs={}, cause=[],
            created_at=now,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()
    return len(runs)
