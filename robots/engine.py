"""Executes robot runs: claim, re-check, condition, kind, outcome, next in chain — each run wholly inside one
transaction; the due runs of one group may share it (execute_batch).

A run belongs to a group: a stage entry (stage robots) or an automation execution (an automation's robots, one
execution per matched event). Everything below is the same for both, except that only a stage robot's run is
cancelled when its deal leaves the stage; an automation run has the `event.*` values besides the deal's."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, TypeVar

from pydantic import ValidationError as SettingsError
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kanban import clock
from kanban.errors import ConflictError, NotFoundError
from kanban.events import Actor
from kanban.i18n import _
from kanban.live import publish_deal_changed
from kanban.models import Deal, Person, User
from kanban.services.deals import timeline
from robots.claiming import LoadedRun, RobotView, RunView, claim, load
from robots.conditions import evaluate, explain
from robots.context import RunContext
from robots.errors import LoopBlockedError, PermanentError, TransientError
from robots.models import Robot, RobotRun
from robots.registry import registry
from robots.scheduling import LEFT_STAGE, due_at, left_stage, same_group, send_after_commit
from robots.subjects import deal_required, of_execution
from robots.subjects import values as subject_values
from robots.templating import plain, render
from robots.values import record_values, values_of

log = logging.getLogger(__name__)
T = TypeVar("T")
BACKOFF_SECONDS = (5, 30, 120, 600, 3600)
MAX_ATTEMPTS = 5
CHAIN_CANCELLED = "the robot above did not finish"
FINAL = ("done", "skipped", "cancelled", "failed", "blocked")


def _write(session: Session, run: Any, values: dict[str, Any]) -> None:
    """Store values on the run's row with one Core UPDATE and reflect them on the in-memory run (a mapped run
    is not flushed again)."""
    session.execute(_outcome_stmt(tuple(values)), {"run_id": run.id, **{f"new_{k}": v for k, v in values.items()}})
    for name, value in values.items():
        if isinstance(run, RobotRun):
            set_committed_value(run, name, value)
        else:
            setattr(run, name, value)


class RunUndoneError(Exception):
    """Raised out of the run's transaction to roll back everything the kind did; the outcome is recorded after
    (record_failure), without executing the run again. `attempt`: the attempt an outside call committed as
    running (it is already counted), else None."""

    def __init__(self, run_id: int, error: str, permanent: bool, *, crash: bool = False,
                 attempt: int | None = None) -> None:
        super().__init__(error)
        self.run_id, self.error, self.permanent, self.crash, self.attempt = run_id, error, permanent, crash, attempt


class RunTakenOverError(Exception):
    """After an outside call the run is no longer this execution's (it stalled so long that the dispatcher
    scheduled it again): nothing more is written for it here."""


@contextmanager
def _transaction(runtime: Any, bind: Connection | None) -> Iterator[Session]:
    """A session whose work commits at the end (or rolls back on an exception); unlike session.begin() it
    may also commit in the middle (an outside call), the rest going on in a new transaction."""
    with (runtime.sessions(bind=bind) if bind is not None else runtime.sessions()) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def execute_run(runtime: Any, run_id: int, *, bind: Connection | None = None) -> str | None:
    """Run one robot run in one transaction; returns its new status, or None when there was nothing to claim.

    `bind`: a connection the caller holds (not in a transaction) for several runs in a row, so each run
    does not pay a pool checkout and its liveness ping.
    """
    try:
        with _transaction(runtime, bind) as session:
            statuses = _execute_runs(runtime, session, [run_id], batched=False)
            return statuses[0] if statuses else None
    except RunUndoneError as undo:
        # The kind's partial work is rolled back with the whole transaction (cheaper than a savepoint on
        # the success path); the failed attempt is recorded in a fresh one.
        if undo.crash:
            log.error("robot run %s crashed", run_id, exc_info=undo.__cause__)
        return record_failure(runtime, run_id, undo.error, permanent=undo.permanent, attempt=undo.attempt)
    except RunTakenOverError:
        log.warning("robot run %s: taken over by a later execution after a stalled outside call", run_id)
        return None


def execute_batch(runtime: Any, run_ids: list[int], *, bind: Connection | None = None) -> int:
    """Execute the due runs of one message, in order, in ONE transaction; returns how many it handled. A message
    holds one group's runs (stage entry or automation execution), or several whole groups packed by the
    dispatcher (robots.scheduling.packed); the deals are locked in id order, so batches cannot deadlock.

    Loading, locking and claiming are done once for the batch; each run is then re-checked, conditioned,
    executed and finished exactly as by execute_run, and the commit is shared. A kind that calls the
    outside world gets a transaction of its own (a rollback cannot take an HTTP call back): the batch stops
    before it, or holds it alone; the caller passes the rest in the next call. Any failure rolls the whole
    batch back and propagates; the caller then executes the runs one per transaction, so the others are not
    held back by it. A RunUndoneError names the run that failed (an unexpected exception becomes one with
    crash=True): the caller records that attempt (record_failure) instead of running it again.
    """
    try:
        with _transaction(runtime, bind) as session:
            return len(_execute_runs(runtime, session, run_ids, batched=True))
    except RunTakenOverError:  # only an outside-calling run, which is always alone in its batch
        log.warning("robot run %s: taken over by a later execution after a stalled outside call", run_ids[0])
        return 1


def _execute_runs(runtime: Any, session: Session, run_ids: list[int], *, batched: bool) -> list[str | None]:
    """Load, claim and execute runs in the session's transaction, in order; returns the statuses of the
    leading runs it handled (None: nothing to claim). An outside-calling kind is never batched with others:
    the batch stops before it, or it is alone."""
    now = clock.now()
    run_ids = list(dict.fromkeys(run_ids))  # a run named twice is still executed once
    loaded = load(session, run_ids)
    handled: list[int] = []
    for run_id in run_ids:
        outside = batched and run_id in loaded and _external(loaded[run_id].run.kind)
        if outside and handled:
            break  # it gets a transaction of its own, the next one
        handled.append(run_id)
        if outside:
            break  # alone in this one
    claimed = {run_id for run_id in handled if run_id in loaded and claim(loaded[run_id], now)}
    statuses: list[str | None] = []
    for run_id in handled:
        if run_id not in claimed:
            statuses.append(None)  # duplicate, late or early delivery
            continue
        run = loaded[run_id].run
        try:
            statuses.append(_execute(runtime, session, loaded[run_id], now))
        except (RunUndoneError, RunTakenOverError):
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised, named after its run, for the actor boundary
            raise _undone(run, f"{type(exc).__name__}: {exc}", permanent=False, crash=True) from exc
    for deal_id in {loaded[run_id].run.deal_id for run_id in claimed} - {None}:
        publish_deal_changed(session, deal_id)
    return statuses


def _undone(run: RunView, error: str, *, permanent: bool, crash: bool = False) -> RunUndoneError:
    return RunUndoneError(run.id, error, permanent, crash=crash,
                          attempt=run.attempts if run.running_committed else None)


def outside_call(session: Session, run: RunView, call: Callable[[], T]) -> T:
    """RunContext.outside for the engine: commit the run as running, make the call with no transaction open,
    then lock the deal and the run again (raising RunTakenOverError if the run is no longer ours)."""
    _write(session, run, {"status": "running", "attempts": run.attempts, "started_at": run.started_at})
    if run.deal_id is not None:
        publish_deal_changed(session, run.deal_id)
    session.commit()  # users see it running; the deal and (on SQLite) the database are free during the call
    run.running_committed = True
    try:
        return call()
    finally:
        # A new transaction: the deal (refreshed: it may have changed meanwhile) and the run, locked again.
        session.execute(select(Deal).where(Deal.id == run.deal_id).with_for_update()
                        .execution_options(populate_existing=True))
        now_at = session.execute(select(RobotRun.status, RobotRun.attempts).where(RobotRun.id == run.id)
                                 .with_for_update()).first()
        if now_at is None or tuple(now_at) != ("running", run.attempts):
            raise RunTakenOverError(run.id)


def _external(kind: str) -> bool:
    return kind in registry and registry.get(kind).effect != "db"


def _execute(runtime: Any, session: Session, loaded: LoadedRun, now: datetime) -> str:
    run, robot, deal = loaded.run, loaded.robot, loaded.deal
    # Runs of this entry are read only when needed: for outputs of earlier robots, or to release/cancel a chain.
    wants_outputs = "robots." in f"{robot.settings}{robot.condition}"
    entry_runs = _entry_runs(session, run) if loaded.has_waiting or wants_outputs else []
    if deal is not None and left_stage(run, deal):
        # An earlier run of the batch moved the deal on (change_stage): this one never started.
        return _finish(session, run, "cancelled", now, entry_runs, reason=LEFT_STAGE, unclaim=True)
    if not robot.active:
        return _finish(session, run, "cancelled", now, entry_runs, reason="the robot was disabled before it was due",
                       unclaim=True)
    outputs_by_key = {r.robot_key: dict(r.outputs or {}) for r in entry_runs if r.status == "done"}
    subject = of_execution(session, run.execution_id) if deal is None else None
    if subject is not None:  # an automation run without a deal: values from its person, org or deleted deal
        values = subject_values(session, *subject, loaded.event, outputs_by_key)
    else:
        assert deal is not None and run.stage_id is not None
        # Person and responsible as they are now: an earlier run of the batch may have changed them.
        person = _current(session, Person, deal.person_id, loaded.person)
        responsible = _current(session, User, deal.responsible_id, loaded.responsible)
        # The next activity costs a query: read only when the robot's settings or condition mention it.
        records = record_values(session, deal, person,
                                with_next_activity="next_activity" in f"{robot.settings}{robot.condition}")
        values = values_of(deal, records, responsible, run.stage_id, loaded.stage_name, outputs_by_key,
                           public_url=runtime.settings.public_url)
        if loaded.event is not None:
            values["event"] = loaded.event
    holds, details = evaluate(robot.condition, values)
    if not holds:
        return _finish(session, run, "skipped", now, entry_runs, reason=explain(robot.condition, details),
                       outputs={"condition_values": plain(details)})
    if subject is not None and (reason := deal_required(run.kind, *subject)):
        return _finish(session, run, "skipped", now, entry_runs, reason=reason)
    try:
        outputs = _run_kind(runtime, session, run, robot, values, now)
    except LoopBlockedError as exc:
        # Keep what the refused move wrote (the core's loop_blocked timeline entry): a blocked run is final.
        return _finish(session, run, "blocked", now, entry_runs, reason=exc.reason, robot=robot)
    except PermanentError as exc:
        raise _undone(run, str(exc) or type(exc).__name__, permanent=True) from exc
    except TransientError as exc:
        raise _undone(run, str(exc) or type(exc).__name__, permanent=False) from exc
    except (MemoryError, RecursionError) as exc:
        # The same settings would exhaust the worker again: fail once, saying why, instead of retrying.
        raise _undone(run, f"the robot exhausted the worker's resources ({type(exc).__name__}); its settings "
                      "(templates, sizes) must be simplified", permanent=True) from exc
    return _finish(session, run, "done", now, entry_runs, outputs=plain(outputs or {}))


def _current(session: Session, model: Any, row_id: int | None, loaded: Any) -> Any:
    """The row the deal points at now: the one loaded with it, or (after a change) the new one."""
    if row_id is None:
        return None
    return loaded if loaded is not None and loaded.id == row_id else session.get(model, row_id)


def _run_kind(runtime: Any, session: Session, run: RunView, robot: RobotView, values: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    """Validate the settings and do the kind's work in the run's transaction."""
    try:
        kind = registry.get(run.kind)
    except KeyError as exc:
        raise PermanentError(_("unknown robot kind %(kind)s", kind=repr(run.kind))) from exc
    try:
        settings = kind.Settings.model_validate(robot.settings or {})
    except SettingsError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise PermanentError(_("invalid settings: %(problems)s", problems=problems)) from None
    ctx = RunContext(
        session=session, settings=runtime.settings, run_id=run.id, robot_id=robot.id, robot_key=run.robot_key,
        deal_id=run.deal_id, stage_id=run.stage_id, stage_entry_id=run.stage_entry_id, now=now, values=values,
        render_fn=render, cause=tuple(run.cause or ()), services=runtime.extras.get("services", {}),
        execution_id=run.execution_id,
    )
    if kind.effect != "db":
        ctx.outside_fn = partial(outside_call, session, run)
    return kind().run(ctx, settings) or {}


def _entry_runs(session: Session, run: Any) -> list[RobotRun]:
    """Every run of the run's group in chain order (outputs of the finished ones, the next one to release)."""
    # populate_existing: runs of the group already in this session (a batch) were changed by Core statements.
    return list(session.scalars(
        select(RobotRun).where(same_group(run))
        .order_by(RobotRun.position, RobotRun.id).execution_options(populate_existing=True)
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
            outputs: dict[str, Any] | None = None, unclaim: bool = False) -> str:
    """Store a final status; release the next run of the chain (done/skipped) or cancel the chain.

    A claimed RunView's attempt count and start time are written here too, with the outcome, unless
    `unclaim`: the run was claimed but is cancelled before it started, so its claim is not an attempt.
    """
    values: dict[str, Any] = {"status": status, "finished_at": clock.now(), "reason": reason}
    # finished_at: the claim time is `now`; this is when the outcome was decided.
    if isinstance(run, RunView) and not unclaim:
        values.update(attempts=run.attempts, started_at=run.started_at)
    if error is not None:
        values["error"] = error
    elif status == "done":
        values["error"] = None  # a run that succeeds (after a retry or a transient failure) keeps no old error
    if outputs is not None:
        values["outputs"] = outputs
    session.flush()  # pending changes of the run (a failed attempt's count) go first
    _write(session, run, values)
    if status in ("failed", "blocked") and run.deal_id is not None:
        name = robot.name if robot is not None else run.robot_key
        text = (_("Robot “%(name)s” failed: %(error)s", name=name, error=error) if status == "failed"
                else _("Robot “%(name)s” was blocked by the loop guard", name=name))
        timeline(session, run.deal_id, "robot", text, Actor("robot", run.robot_id),
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
    deal = session.get(Deal, run.deal_id) if run.deal_id is not None else None
    # Automation runs never leave a stage; their chain goes on without a deal (delete_deal, robots.subjects).
    if run.stage_entry_id is not None and left_stage(run, deal):
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


def record_failure(runtime: Any, run_id: int, error: str, *, permanent: bool = False,
                   attempt: int | None = None) -> str | None:
    """After the run's transaction was rolled back: count the attempt, then fail it or back off.

    `attempt`: the attempt an outside call already committed as running (counted then): it must still be
    the run's current one.
    """
    with runtime.sessions() as session, session.begin():
        now = clock.now()
        run = locked_run(session, run_id)
        if attempt is not None:
            if run is None or run.status != "running" or run.attempts != attempt:
                return None  # taken over by a later execution
        elif run is None or run.status != "scheduled" or run.due_at is None or run.due_at > now:
            return None  # finished or rescheduled meanwhile by another delivery
        else:
            run.attempts += 1
            run.started_at = now
        robot = session.get(Robot, run.robot_id)
        if permanent:
            status = _finish(session, run, "failed", now, error=error, robot=robot)
        else:
            status = retry_later(session, run, error, now, robot=robot)
        if status == "failed":
            from robots.alerts import alert_admins

            alert_admins(runtime, session, run, robot)
        if run.deal_id is not None:
            publish_deal_changed(session, run.deal_id)
        return status


def locked_run(session: Session, run_id: int) -> RobotRun | None:
    """The run, with its deal and then itself locked (the order moves and executing runs use: no deadlock)."""
    found = session.execute(select(RobotRun.deal_id).where(RobotRun.id == run_id)).first()
    if found is None:
        return None
    if found.deal_id is not None:  # an automation run without a deal locks only itself
        session.execute(select(Deal.id).where(Deal.id == found.deal_id).with_for_update())
    return session.get(RobotRun, run_id, with_for_update=True, populate_existing=True)


def record_crash(runtime: Any, run_id: int, error: str) -> str | None:
    """An unexpected exception (at the actor boundary) is a failed attempt: retried with backoff."""
    return record_failure(runtime, run_id, error, permanent=False)


def retry_run(session: Session, run_id: int) -> RobotRun:
    """Admin retry of a failed run: scheduled now, attempts reset; robots cancelled behind it wait again."""
    run = locked_run(session, run_id)
    if run is None:
        raise NotFoundError(_("run %(run_id)s not found", run_id=run_id))
    if run.status != "failed":
        raise ConflictError(_("only failed runs can be retried (this one is %(status)s)", status=run.status))
    if run.deal_id is not None and left_stage(run, session.get(Deal, run.deal_id)):
        raise ConflictError(_("the deal has left the stage this run belongs to"))
    now = clock.now()
    run.status, run.due_at, run.attempts = "scheduled", now, 0
    run.started_at = run.finished_at = run.enqueued_at = None
    for nxt in _following(_entry_runs(session, run), run):
        if nxt.status != "cancelled" or not (nxt.reason or "").startswith(CHAIN_CANCELLED):
            break
        nxt.status, nxt.reason, nxt.finished_at = "waiting", None, None
    send_after_commit(session, [run])
    session.flush()
    if run.deal_id is not None:
        publish_deal_changed(session, run.deal_id)
    return run
