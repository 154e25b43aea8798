"""Loading and claiming robot runs: the deal locked first, then the runs, read as plain values in two queries.

A run is claimed by locking its row and seeing it `scheduled` and due. On PostgreSQL the row lock
(SELECT … FOR UPDATE, read committed) returns the newest committed version of the row, re-checked after
waiting for any other transaction holding it, so a duplicate delivery that waited behind the one executing
the run sees it finished and claims nothing. On SQLite every writing transaction starts with BEGIN
IMMEDIATE, so the transaction already holds the database's write lock when it reads. Claiming writes
nothing by itself: the run's outcome, attempt count and start time are written once, with the result,
in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from kanban.domain_events import DomainEvent
from kanban.models import Deal, Person, Stage, User
from robots.models import AutomationExecution, Robot, RobotRun


@dataclass
class RunView:
    """The run columns the engine needs, as plain values (cheaper than a mapped object)."""

    id: int
    robot_id: int
    deal_id: int | None  # None: an automation's run without a deal (robots.subjects)
    stage_id: int | None
    stage_entry_id: int | None  # a stage robot's run: its stage entry …
    execution_id: int | None  # … an automation's run: its execution (exactly one of the two is set)
    kind: str
    robot_key: str
    position: int
    status: str
    due_at: datetime | None
    cause: list[Any]
    attempts: int = 0
    started_at: datetime | None = None
    running_committed: bool = False  # an outside call committed it as running (robots.engine.outside_call)


_RUN_COLUMNS = ("id", "robot_id", "deal_id", "stage_id", "stage_entry_id", "execution_id", "kind", "robot_key",
                "position", "status", "due_at", "cause", "attempts")


@dataclass(frozen=True)
class RobotView:
    """The robot columns a run needs."""

    id: int
    name: str
    settings: dict[str, Any]
    condition: dict[str, Any] | None
    active: bool


@dataclass
class LoadedRun:
    """One run as loaded: its columns, its robot's, the stage name, its (locked) deal with person and
    responsible as mapped objects (kinds look them up through the session), whether a run of the same
    group (stage entry or execution) waits for a previous one, and an automation run's `event` values."""

    run: RunView
    robot: RobotView
    stage_name: str
    deal: Deal | None  # None only for an automation's run without a deal (robots.subjects)
    person: Person | None
    responsible: User | None
    has_waiting: bool
    event: dict[str, Any] | None = None

    def due(self, now: datetime) -> bool:
        """Scheduled and due: what claiming requires (anything else is a duplicate, late or early delivery)."""
        return self.run.status == "scheduled" and self.run.due_at is not None and self.run.due_at <= now


@lru_cache(maxsize=2)
def _deals_stmt(postgresql: bool) -> Any:
    # Built once: constructing statements costs more CPU than executing them. Two small queries plan far
    # faster than one six-table join (PostgreSQL plans each execution of it again).
    runs = RobotRun.__table__
    stmt = (
        select(Deal, Person, User)
        .outerjoin(Person, Person.id == Deal.person_id)
        .outerjoin(User, User.id == Deal.responsible_id)
        .where(Deal.id.in_(select(runs.c.deal_id).where(runs.c.id.in_(bindparam("run_ids", expanding=True)))))
        .order_by(Deal.id)
    )
    return stmt.with_for_update(of=Deal) if postgresql else stmt


@lru_cache(maxsize=2)
def _runs_stmt(postgresql: bool) -> Any:
    runs, robots, stages = RobotRun.__table__, Robot.__table__, Stage.__table__
    other = runs.alias("other_run")
    # Two EXISTS, one per group column, each served by its index (an OR inside one would scan the table).
    has_waiting = or_(
        select(other.c.id).where(other.c.stage_entry_id == runs.c.stage_entry_id, other.c.status == "waiting").exists(),
        select(other.c.id).where(other.c.execution_id == runs.c.execution_id, other.c.status == "waiting").exists(),
    )
    stmt = (
        select(*(runs.c[name] for name in _RUN_COLUMNS), robots.c.name.label("robot_name"), robots.c.settings,
               robots.c.condition, robots.c.active, stages.c.name.label("stage_name"),
               has_waiting.label("has_waiting"))
        .select_from(runs)
        .join(robots, robots.c.id == runs.c.robot_id)
        .outerjoin(stages, stages.c.id == runs.c.stage_id)  # an automation run without a deal has no stage
        .where(runs.c.id.in_(bindparam("run_ids", expanding=True)))
    )
    return stmt.with_for_update(of=runs) if postgresql else stmt


def load(session: Session, run_ids: list[int]) -> dict[int, LoadedRun]:
    """Lock the runs' deal(s), then lock and read the runs with their robot and stage name.

    The deal is locked before its runs: moves lock the deal and then cancel its runs, so taking the locks
    in the same order cannot deadlock; and the deal cannot leave the stage while its robots act.
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = {"run_ids": run_ids}
    deals = {row[0].id: row for row in session.execute(_deals_stmt(postgresql), params)}
    loaded: dict[int, LoadedRun] = {}
    for row in session.execute(_runs_stmt(postgresql), params):
        found = deals.get(row.deal_id)
        if found is None and row.deal_id is not None:
            continue  # the deal was deleted meanwhile (its runs go with it)
        run = RunView(*(row._mapping[name] for name in _RUN_COLUMNS))
        robot = RobotView(row.robot_id, row.robot_name, row.settings, row.condition, row.active)
        deal, person, responsible = found if found is not None else (None, None, None)
        loaded[run.id] = LoadedRun(run, robot, row.stage_name or "", deal, person, responsible, row.has_waiting)
    executions = {item.run.execution_id for item in loaded.values() if item.run.execution_id is not None}
    if executions:
        events = event_values(session, executions)
        for item in loaded.values():
            if item.run.execution_id is not None:
                item.event = events.get(item.run.execution_id, {})
    return loaded


def event_values(session: Session, execution_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The `event.*` values of executions' events (template and condition values of automation runs)."""
    rows = session.execute(
        select(AutomationExecution.id, DomainEvent).join(DomainEvent, DomainEvent.id == AutomationExecution.event_id)
        .where(AutomationExecution.id.in_(execution_ids))
    )
    return {execution_id: event_view(event) for execution_id, event in rows}


def event_view(event: DomainEvent) -> dict[str, Any]:
    """An event as condition/template values: type, changed, old, new, actor_id, actor_type, to, and data."""
    return {"type": event.type, "changed": list(event.changed or []), "old": dict(event.old or {}),
            "new": dict(event.new or {}), "actor_id": event.actor_id, "actor_type": event.actor_type,
            "to": (event.data or {}).get("to"), "data": dict(event.data or {}), "id": event.id,
            "entity_type": event.entity_type, "entity_id": event.entity_id}


def claim(loaded: LoadedRun, now: datetime) -> bool:
    """Claim a loaded (locked) run that is due: counts the attempt and its start in memory; False otherwise."""
    if not loaded.due(now):
        return False
    loaded.run.status, loaded.run.attempts, loaded.run.started_at = "running", loaded.run.attempts + 1, now
    return True
