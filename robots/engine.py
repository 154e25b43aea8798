"""Executes one robot run: claim, re-check, condition, kind, outcome, next in chain — all in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import ValidationError as SettingsError
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kanban import clock
from kanban.errors import ConflictError, NotFoundError
from kanban.events import Actor
from kanban.live import publish_deal_changed
from kanban.models import Contact, Deal, Stage, User
from kanban.services.deals import timeline
from robots.conditions import evaluate, explain
from robots.context import RunContext
from robots.errors import LoopBlockedError, PermanentError, TransientError
from robots.models import Robot, RobotRun
from robots.registry import registry
from robots.scheduling import LEFT_STAGE, due_at, send_after_commit
from robots.templating import plain, render
from robots.values import values_of

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (5, 30, 120, 600, 3600)
MAX_ATTEMPTS = 5
CHAIN_CANCELLED = "the robot above did not finish"
FINAL = ("done", "skipped", "cancelled", "failed", "blocked")


@lru_cache(maxsize=1)
def _claim_stmt() -> Any:
    # Built once: constructing ORM statements costs more CPU than executing them.
    # A Core (not ORM-enabled) UPDATE: the in-session run is updated by hand below.
    runs = RobotRun.__table__
    return (
        update(runs)
        .where(runs.c.id == bindparam("run_id"), runs.c.status == "scheduled",
               runs.c.due_at <= bindparam("due_by", type_=runs.c.due_at.type))
        .values(status="running", attempts=runs.c.attempts + 1,
                started_at=bindparam("claim_at", type_=runs.c.started_at.type))
        .returning(runs.c.attempts)
    )


def claim(session: Session, run: Any, now: datetime) -> bool:
    """Take a due scheduled run (scheduled → running, attempts+1); False for duplicate or early deliveries."""
    row = session.execute(_claim_stmt(), {"run_id": run.id, "due_by": now, "claim_at": now}).first()
    if row is None:
        return False
    _written(run, {"status": "running", "attempts": row.attempts, "started_at": now})
    return True


def _written(run: Any, values: dict[str, Any]) -> None:
    """Reflect values a Core statement stored on the in-memory run (a mapped run is not flushed again)."""
    for name, value in values.items():
        if isinstance(run, RobotRun):
            set_committed_value(run, name, value)
        else:
            setattr(run, name, value)


class _Undo(Exception):
    """Raised out of the run's transaction to roll back everything the kind did; the outcome is recorded after."""

    def __init__(self, error: str, permanent: bool) -> None:
        super().__init__(error)
        self.error, self.permanent = error, permanent


@dataclass
class _RunView:
    """The run columns the engine needs, read as plain values with the deal (cheaper than a mapped object)."""

    id: int
    robot_id: int
    deal_id: int
    stage_id: int
    stage_entry_id: int
    kind: str
    robot_key: str
    position: int
    status: str
    due_at: datetime | None
    cause: list[Any]
    attempts: int = 0
    started_at: datetime | None = None


_RUN_COLUMNS = ("id", "robot_id", "deal_id", "stage_id", "stage_entry_id", "kind", "robot_key", "position", "status",
                "due_at", "cause")


@dataclass(frozen=True)
class _RobotView:
    """The robot columns a run needs (loaded with the run rather than as a mapped object: cheaper)."""

    id: int
    name: str
    settings: dict[str, Any]
    condition: dict[str, Any] | None
    active: bool


@lru_cache(maxsize=2)
def _load_stmt(postgresql: bool) -> Any:
    # Run, robot and stage are read as plain columns; the deal, contact and responsible are mapped objects
    # because kinds look them up through the session (ctx.deal(), ctx.user()).
    runs, robots, stages = RobotRun.__table__, Robot.__table__, Stage.__table__
    other = runs.alias("other_run")
    has_waiting = (select(other.c.id).where(other.c.stage_entry_id == runs.c.stage_entry_id,
                                            other.c.status == "waiting").exists())
    stmt = (
        select(Deal, Contact, User, *(runs.c[name].label(f"run_{name}") for name in _RUN_COLUMNS),
               robots.c.name.label("robot_name"), robots.c.settings, robots.c.condition, robots.c.active,
               stages.c.name.label("stage_name"), has_waiting.label("has_waiting"))
        .select_from(runs)
        .join(Deal, Deal.id == runs.c.deal_id)
        .join(robots, robots.c.id == runs.c.robot_id)
        .join(stages, stages.c.id == runs.c.stage_id)
        .outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(User, User.id == Deal.responsible_id)
        .where(runs.c.id == bindparam("run_id"))
    )
    return stmt.with_for_update(of=Deal) if postgresql else stmt


def _load(session: Session, run_id: int) -> Any:
    """One query: the run, its deal (locked, so it cannot leave the stage while the robot acts), robot, stage
    name, contact, responsible, and whether a run of the entry waits for a previous one. The caller keeps the
    row: the session's identity map only holds weak references.

    The deal is locked before the run row is claimed: moves lock the deal and then cancel its runs, so
    taking the locks in the same order cannot deadlock.
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    return session.execute(_load_stmt(postgresql), {"run_id": run_id}).first()


def execute_run(runtime: Any, run_id: int, *, bind: Connection | None = None) -> str | None:
    """Run one robot run in one transaction; returns its new status, or None when there was nothing to claim.

    `bind`: a connection the caller holds (not in a transaction) for several runs in a row, so each run
    does not pay a pool checkout and its liveness ping.
    """
    try:
        with (runtime.sessions(bind=bind) if bind is not None else runtime.sessions()) as session, session.begin():
            now = clock.now()
            loaded = _load(session, run_id)
            if loaded is None:
                return None
            run, deal = _RunView(*(loaded._mapping[f"run_{name}"] for name in _RUN_COLUMNS)), loaded[0]
            if run.status != "scheduled" or run.due_at is None or run.due_at > now or not claim(session, run, now):
                return None  # duplicate, late or early delivery
            robot = _RobotView(run.robot_id, loaded.robot_name, loaded.settings, loaded.condition, loaded.active)
            status = _execute(runtime, session, run, deal, robot, now, loaded)
            publish_deal_changed(session, run.deal_id)
            return status
    except _Undo as undo:
        # The kind's partial work is rolled back with the whole transaction (cheaper than a savepoint on
        # the success path); the failed attempt is recorded in a fresh one.
        return record_failure(runtime, run_id, undo.error, permanent=undo.permanent)


def _execute(runtime: Any, session: Session, run: _RunView, deal: Deal, robot: _RobotView, now: datetime,
             loaded: Any) -> str:
    # Runs of this entry are read only when needed: for outputs of earlier robots, or to release/cancel a chain.
    wants_outputs = "robots." in f"{robot.settings}{robot.condition}"
    entry_runs = _entry_runs(session, run) if loaded.has_waiting or wants_outputs else []
    if deal.current_entry_id != run.stage_entry_id:
        return _finish(session, run, "cancelled", now, entry_runs, reason=LEFT_STAGE)
    if not robot.active:
        return _finish(session, run, "cancelled", now, entry_runs, reason="the robot was disabled before it was due")
    outputs_by_key = {r.robot_key: dict(r.outputs or {}) for r in entry_runs if r.status == "done"}
    values = values_of(deal, loaded[1], loaded[2], run.stage_id, loaded.stage_name, outputs_by_key,
                       public_url=runtime.settings.public_url)
    holds, details = evaluate(robot.condition, values)
    if not holds:
        return _finish(session, run, "skipped", now, entry_runs, reason=explain(robot.condition, details),
                       outputs={"condition_values": plain(details)})
    try:
        outputs = _run_kind(runtime, session, run, robot, values, now)
    except LoopBlockedError as exc:
        # Keep what the refused move wrote (the core's loop_blocked timeline entry): a blocked run is final.
        return _finish(session, run, "blocked", now, entry_runs, reason=exc.reason, robot=robot)
    except PermanentError as exc:
        raise _Undo(str(exc) or type(exc).__name__, permanent=True) from exc
    except TransientError as exc:
        raise _Undo(str(exc) or type(exc).__name__, permanent=False) from exc
    return _finish(session, run, "done", now, entry_runs, outputs=plain(outputs or {}))


def _run_kind(runtime: Any, session: Session, run: _RunView, robot: _RobotView, values: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    """Validate the settings and do the kind's work in the run's transaction."""
    try:
        kind = registry.get(run.kind)
    except KeyError as exc:
        raise PermanentError(f"unknown robot kind {run.kind!r}") from exc
    try:
        settings = kind.Settings.model_validate(robot.settings or {})
    except SettingsError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise PermanentError(f"invalid settings: {problems}") from None
    ctx = RunContext(
        session=session, settings=runtime.settings, run_id=run.id, robot_id=robot.id, robot_key=run.robot_key,
        deal_id=run.deal_id, stage_id=run.stage_id, stage_entry_id=run.stage_entry_id, now=now, values=values,
        render_fn=render, cause=tuple(run.cause or ()), services=runtime.extras.get("services", {}),
    )
    return kind().run(ctx, settings) or {}


def _entry_runs(session: Session, run: Any) -> list[RobotRun]:
    """Every run of the stage entry in chain order (outputs of the finished ones, the next one to release)."""
    return list(session.scalars(
        select(RobotRun).where(RobotRun.stage_entry_id == run.stage_entry_id)
        .order_by(RobotRun.position, RobotRun.id)
    ))


def _following(entry_runs: list[RobotRun], run: Any) -> list[RobotRun]:
    return [r for r in entry_runs if r.position > run.position]


@lru_cache(maxsize=8)
def _outcome_stmt(names: tuple[str, ...]) -> Any:
    # A Core UPDATE built once per column set: the unit-of-work flush of the run row costs more CPU.
    runs = RobotRun.__table__
    return (update(runs).where(runs.c.id == bindparam("run_id"))
            .values({name: bindparam(f"new_{name}", type_=runs.c[name].type) for name in names}))


def _finish(session: Session, run: Any, status: str, now: datetime, entry_runs: list[RobotRun] | None = None,
            *, reason: str | None = None, error: str | None = None, robot: Any = None,
            outputs: dict[str, Any] | None = None) -> str:
    """Store a final status; release the next run of the chain (done/skipped) or cancel the chain."""
    values: dict[str, Any] = {"status": status, "finished_at": clock.now(), "reason": reason}
    # finished_at: the claim time is `now`; this is when the outcome was decided.
    if error is not None:
        values["error"] = error
    if outputs is not None:
        values["outputs"] = outputs
    session.flush()  # pending changes of the run (a failed attempt's count) go first
    session.execute(_outcome_stmt(tuple(values)), {"run_id": run.id, **{f"new_{k}": v for k, v in values.items()}})
    _written(run, values)
    if status in ("failed", "blocked"):
        what = f"failed: {error}" if status == "failed" else "was blocked by the loop guard"
        name = robot.name if robot is not None else run.robot_key
        timeline(session, run.deal_id, "robot", f"Robot “{name}” {what}", Actor("robot", run.robot_id),
                 run_id=run.id, robot_key=run.robot_key, status=status)
    following = _following(entry_runs if entry_runs is not None else _entry_runs(session, run), run)
    if status in ("done", "skipped"):
        _release_next(session, run, following, now)
    else:
        _cancel_chain(run, following, now)
    session.flush()
    return status


def _release_next(session: Session, run: Any, following: list[RobotRun], now: datetime) -> None:
    """The next robot waits for this one: schedule it (its delay counts from now) if the deal is still here."""
    if not following or following[0].status != "waiting":
        return
    nxt = following[0]
    deal = session.get(Deal, run.deal_id)
    if deal is None or deal.current_entry_id != run.stage_entry_id:
        return
    robot = session.get(Robot, nxt.robot_id)
    nxt.status = "scheduled"
    nxt.due_at = due_at(robot.delay if robot else None, deal, now)
    if nxt.due_at <= now:
        send_after_commit(session, [nxt])


def _cancel_chain(run: Any, following: list[RobotRun], now: datetime) -> None:
    """Robots waiting (directly or transitively) for a run that did not finish well are cancelled."""
    for nxt in following:
        if nxt.status != "waiting":
            break
        nxt.status = "cancelled"
        nxt.finished_at = now
        nxt.reason = f"{CHAIN_CANCELLED} ({run.robot_key}: {run.status})"


def retry_later(session: Session, run: RobotRun, error: str, now: datetime, *, robot: Robot | None = None) -> str:
    """A transient failure: back to scheduled with backoff, or failed after the last attempt."""
    if run.attempts >= MAX_ATTEMPTS:
        return _finish(session, run, "failed", now, error=f"{error} (gave up after {run.attempts} attempts)",
                       robot=robot)
    run.status = "scheduled"
    run.error = error
    run.due_at = now + timedelta(seconds=BACKOFF_SECONDS[min(run.attempts, len(BACKOFF_SECONDS)) - 1])
    run.enqueued_at = None  # the dispatcher sends it when the backoff is over
    session.flush()
    return "scheduled"


def record_failure(runtime: Any, run_id: int, error: str, *, permanent: bool = False) -> str | None:
    """After the run's transaction was rolled back: count the attempt, then fail it or back off."""
    with runtime.sessions() as session, session.begin():
        now = clock.now()
        run = session.get(RobotRun, run_id)
        if run is None or run.status != "scheduled" or run.due_at is None or run.due_at > now:
            return None  # finished or rescheduled meanwhile by another delivery
        run.attempts += 1
        run.started_at = now
        robot = session.get(Robot, run.robot_id)
        if permanent:
            status = _finish(session, run, "failed", now, error=error, robot=robot)
        else:
            status = retry_later(session, run, error, now, robot=robot)
        publish_deal_changed(session, run.deal_id)
        return status


def record_crash(runtime: Any, run_id: int, error: str) -> str | None:
    """An unexpected exception (at the actor boundary) is a failed attempt: retried with backoff."""
    return record_failure(runtime, run_id, error, permanent=False)


def retry_run(session: Session, run_id: int) -> RobotRun:
    """Admin retry of a failed run: scheduled now, attempts reset; robots cancelled behind it wait again."""
    run = session.get(RobotRun, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    if run.status != "failed":
        raise ConflictError(f"only failed runs can be retried (this one is {run.status})")
    deal = session.get(Deal, run.deal_id)
    if deal is None or deal.current_entry_id != run.stage_entry_id:
        raise ConflictError("the deal has left the stage this run belongs to")
    now = clock.now()
    run.status, run.due_at, run.attempts = "scheduled", now, 0
    run.started_at = run.finished_at = run.enqueued_at = None
    for nxt in _following(_entry_runs(session, run), run):
        if nxt.status != "cancelled" or not (nxt.reason or "").startswith(CHAIN_CANCELLED):
            break
        nxt.status, nxt.reason, nxt.finished_at = "waiting", None, None
    send_after_commit(session, [run])
    session.flush()
    publish_deal_changed(session, run.deal_id)
    return run
