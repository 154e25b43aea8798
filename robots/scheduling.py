"""Robot runs are created when a deal enters a stage and cancelled when it leaves, in the move's transaction.

Runs come in groups: a stage entry's runs, or an automation execution's (robots.matching); a group's runs share
chains (after_previous), outputs and a message."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from kanban import clock, company, timezones
from kanban.automation_versions import current_version
from kanban.db import on_commit
from kanban.errors import NotFoundError, ValidationError
from kanban.events import DealFieldsChanged, DealMoved, DealsMoved
from kanban.i18n import _
from kanban.models import Deal, Stage
from robots.models import Robot, RobotRun

PENDING = ("scheduled", "waiting")
LEFT_STAGE = "deal left the stage"
MAX_DELAY_SECONDS = 10 * 366 * 86400  # keeps due_at a valid datetime whatever the stored delay says
MAX_BUSINESS_DAYS = 2600
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

# Set by robots.wiring.install: sends batches of run ids to the workers, one message per batch (after
# commit). Without it the dispatcher still finds due runs in the database, only later.
_sender: Callable[..., None] | None = None
MAX_BATCH = 20  # runs of one stage entry per message; more robots in a stage make several messages


def configure(sender: Callable[..., None] | None) -> None:
    """Install the function that sends batches of run ids to the workers."""
    global _sender
    _sender = sender


def send_after_commit(session: Session, runs: list[RobotRun], *, low: bool = False) -> None:
    """Mark due runs as enqueued and send their ids once the transaction commits.

    Call it before the flush that writes the runs, so enqueued_at goes out with the same statement;
    ids are read after the commit. Runs of one stage entry travel in one message, in chain order.
    `low`: runs of a bulk move, sent with the low priority (robots.actors) so they yield to single moves.
    """
    if not runs or _sender is None:
        return
    at = clock.now()
    for run in runs:
        run.enqueued_at = at
    sender = _sender
    if low:
        on_commit(session, lambda: sender(batches((run.id, group_key(run)) for run in runs), low=True))
    else:
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


def packed(runs: Iterable[tuple[int, Hashable]], limit: int = MAX_BATCH) -> list[list[int]]:
    """Like `batches`, then whole groups packed together into messages of at most `limit` runs, each group's
    runs contiguous and in chain order. The dispatcher's due runs are mostly one per deal (a burst of delayed
    robots): packed, they share a message and a transaction (robots.engine.execute_batch) instead of paying
    a broker round trip, a connection checkout and a commit each."""
    out: list[list[int]] = []
    for chunk in batches(runs):
        if out and len(out[-1]) + len(chunk) <= limit:
            out[-1].extend(chunk)
        else:
            out.append(list(chunk))
    return out


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


def due_at(delay: dict[str, Any] | None, deal: Deal | None, now: datetime,
           settings: company.Settings | None = None) -> datetime:
    """When a robot with this delay is due, counted from `now`; a moment already past means now.

    before_field/after_field with an empty or unreadable date field run at once (as Bitrix24 does):
    the admin can guard such robots with a "not empty" condition. `at_time` and `business_days` are wall-clock
    times in `delay.time_zone`, else the company's zone (`settings`, default: read in the deal's session);
    DST follows kanban.timezones.localize.
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
    if kind in ("at_time", "business_days"):
        match = _TIME.match(str(delay.get("time") or ""))
        if not match:
            return now
        settings = settings or company.settings(timezones.session_of(deal))
        zone = timezones.zone_named(delay.get("time_zone")) or timezones.zone_named(settings.time_zone) or UTC
        at = time(int(match.group(1)), int(match.group(2)))
        if kind == "at_time":
            return timezones.next_at(now, at, zone)
        try:
            days = min(max(0, int(delay.get("days") or 0)), MAX_BUSINESS_DAYS)
        except (TypeError, ValueError, OverflowError):
            days = 0
        start = timezones.add_business_days(now.astimezone(zone).date(), days, settings.business_days)
        # On that working day at the time, or the next working day's if that moment has already passed (today).
        start_moment = timezones.localize(start, time(0, 0), zone).astimezone(UTC)
        return timezones.next_at(max(now, start_moment), at, zone, settings.business_days)
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
        select(Robot).where(Robot.stage_id == event.to_stage_id).order_by(Robot.position, Robot.id)
    ))
    disabled = [r for r in robots if not r.active]
    if disabled:
        from robots.explain import record_inactive_robots

        record_inactive_robots(session, event.deal_id, session.get(Stage, event.to_stage_id), disabled)
    robots = [r for r in robots if r.active]
    if not robots:
        return
    deal = session.get(Deal, event.deal_id)
    now = clock.now()
    version = current_version(session, deal.pipeline_id if deal is not None else None)
    runs = []
    for index, robot in enumerate(robots):
        waiting = robot.after_previous and index > 0
        runs.append(RobotRun(
            robot_id=robot.id, deal_id=event.deal_id, stage_id=event.to_stage_id, stage_entry_id=event.entry_id,
            kind=robot.kind, robot_key=robot.key, position=index, status="waiting" if waiting else "scheduled",
            due_at=None if waiting else due_at(robot.delay, deal, now), attempts=0, outputs={},
            cause=list(event.cause), created_at=now, automation_version=version,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()


def on_deals_moved(session: Session, event: DealsMoved) -> None:
    """A bulk move, set-wise: the previous entries' pending runs cancelled in one statement, the robots of each
    destination read once, every deal's runs inserted in one flush and sent (after commit) with the low
    priority of bulk work, so reps' single moves are not queued behind a thousand deals' robots."""
    previous = [moved.previous_entry_id for moved in event.moves if moved.previous_entry_id is not None]
    if previous:
        session.execute(
            update(RobotRun)
            .where(RobotRun.stage_entry_id.in_(previous), RobotRun.status.in_(PENDING))
            .values(status="cancelled", reason=LEFT_STAGE, finished_at=clock.now())
            .execution_options(synchronize_session="fetch")
        )
    robots_of: dict[int, list[Robot]] = {}
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for moved in event.moves:
        if not moved.run_robots:
            continue
        if moved.to_stage_id not in robots_of:
            robots_of[moved.to_stage_id] = list(session.scalars(
                select(Robot).where(Robot.stage_id == moved.to_stage_id, Robot.active.is_(True))
                .order_by(Robot.position, Robot.id)
            ))
        robots = robots_of[moved.to_stage_id]
        deal = session.get(Deal, moved.deal_id) if robots else None
        for index, robot in enumerate(robots):
            waiting = robot.after_previous and index > 0
            due = None if waiting else due_at(robot.delay, deal, now)
            rows.append({
                "robot_id": robot.id, "deal_id": moved.deal_id, "stage_id": moved.to_stage_id,
                "stage_entry_id": moved.entry_id, "execution_id": None, "kind": robot.kind,
                "robot_key": robot.key, "position": index, "status": "waiting" if waiting else "scheduled",
                "due_at": due, "attempts": 0, "outputs": {}, "cause": list(moved.cause), "created_at": now,
                # Sent after commit (below): marked enqueued in the same statement, as send_after_commit does.
                "enqueued_at": now if due is not None and due <= now and _sender is not None else None,
            })
    if not rows:
        return
    # One INSERT … RETURNING for every run of the chunk (a flush of mapped runs inserts them one by one).
    inserted = session.execute(insert(RobotRun).returning(RobotRun.id, RobotRun.stage_entry_id, RobotRun.position,
                                                          RobotRun.enqueued_at), rows).all()
    due_now = sorted((row for row in inserted if row.enqueued_at is not None),
                     key=lambda row: (row.stage_entry_id, row.position))
    if due_now and _sender is not None:
        sender, low = _sender, event.bulk
        pairs = [(row.id, ("entry", row.stage_entry_id)) for row in due_now]
        on_commit(session, lambda: sender(batches(pairs), low=True) if low else sender(batches(pairs)))


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
    version = current_version(session, session.scalar(select(Stage.pipeline_id).where(Stage.id == robot.stage_id)))
    runs = []
    for deal in session.scalars(_deals_without_run(robot).order_by(Deal.id)):
        last = session.scalar(select(func.max(RobotRun.position))
                              .where(RobotRun.stage_entry_id == deal.current_entry_id))
        # Placed after the entry's existing runs and never "waiting": the robots above have already run.
        runs.append(RobotRun(
            robot_id=robot.id, deal_id=deal.id, stage_id=robot.stage_id, stage_entry_id=deal.current_entry_id,
            kind=robot.kind, robot_key=robot.key, position=(last if last is not None else -1) + 1,
            status="scheduled", due_at=due_at(robot.delay, deal, now), attempts=0, outputs={}, cause=[],
            created_at=now, automation_version=version,
        ))
    send_after_commit(session, [r for r in runs if r.due_at is not None and r.due_at <= now])
    session.add_all(runs)
    session.flush()
    return len(runs)


FIELD_DELAYS = ("before_field", "after_field")


def on_fields_changed(session: Session, event: DealFieldsChanged) -> None:
    """Date-field delays follow their field: when `fields.<name>` changes before a run waiting on it is due, the
    run's due_at moves (at once when the new moment has passed), in the change's transaction."""
    changed = {name.removeprefix("fields.") for name in event.changes if name.startswith("fields.")}
    if not changed:
        return
    now = clock.now()
    rows = session.execute(
        select(RobotRun, Robot.delay).join(Robot, Robot.id == RobotRun.robot_id)
        .where(RobotRun.deal_id == event.deal_id, RobotRun.status == "scheduled", RobotRun.due_at > now)
    ).all()
    moved = []
    deal = None
    for run, delay in rows:
        delay = delay or {}
        if delay.get("type") not in FIELD_DELAYS or \
                str(delay.get("field") or "").removeprefix("deal.fields.") not in changed:
            continue
        deal = deal or session.get(Deal, event.deal_id)
        new_due = due_at(delay, deal, now)
        if new_due != run.due_at:
            run.due_at = new_due
            moved.append(run)
    send_after_commit(session, [r for r in moved if r.due_at is not None and r.due_at <= now])
    if moved:
        session.flush()
