"""Per-stage deal counts and amount sums kept transactionally, so the unfiltered board reads them in O(stages).

Every ORM flush that inserts, moves, re-prices or deletes a deal records a delta in ``session.info``
(after_flush, so a failed flush records nothing); deltas made inside a savepoint that rolls back are dropped;
just before the outermost commit they are applied as one multi-row upsert, its rows in (stage_id, currency,
shard) order (concurrent movers lock rows in the same order, so they cannot deadlock) and as late as possible
(rows stay locked only for the upserts and the commit itself). Each (stage, currency) total is split over
SHARDS rows by deal id, so concurrent moves between the same two stages rarely wait on one another; readers
sum the shards. Core statements that change deals' stage_id, amount or currency bypass all this: call
``record_stage_change`` for one deal (kanban.services.deals does for a move), ``recount_stage_totals`` after bulk
statements.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session, SessionTransaction

from kanban.models import Deal, Stage, StageTotal

_KEY = "stage_total_deltas"
SHARDS = 16
_TRACKED = ("stage_id", "currency", "amount")


def _before_after(deal: Deal, deleted: bool) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    """The deal's (stage_id, currency, amount) before and after this flush; None for "not there"."""
    state = inspect(deal)
    old, new, changed = [], [], False
    for name in _TRACKED:
        hist = state.attrs[name].history
        before = hist.deleted[0] if hist.deleted else (hist.unchanged[0] if hist.unchanged else None)
        after = hist.added[0] if hist.added else before
        changed = changed or bool(hist.added)
        old.append(before)
        new.append(after)
    if deleted:
        return tuple(old), None
    return (tuple(old), tuple(new)) if changed else (None, None)


def _innermost(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


@event.listens_for(Session, "after_flush")
def _record(session: Session, _context: Any) -> None:
    deltas: list[tuple[Any, ...]] = []
    for obj in session.new:
        if isinstance(obj, Deal):
            deltas.append((obj.stage_id, obj.currency, obj.id % SHARDS, 1, obj.amount or 0))
    dirty = [(obj, False) for obj in session.dirty] + [(obj, True) for obj in session.deleted]
    for obj, deleted in dirty:
        if not isinstance(obj, Deal):
            continue
        old, new = _before_after(obj, deleted)
        if old is not None and old != new:
            deltas.append((old[0], old[1], obj.id % SHARDS, -1, -(old[2] or 0)))
        if new is not None and old != new:
            deltas.append((new[0], new[1], obj.id % SHARDS, 1, new[2] or 0))
    if deltas:
        tx = _innermost(session)
        session.info.setdefault(_KEY, []).extend((tx, *d) for d in deltas)


def record_stage_change(session: Session, deal_id: int, currency: str, amount: int | None, from_stage_id: int,
                        to_stage_id: int) -> None:
    """Record the delta of a deal moved by a Core UPDATE (the move's fast path), as the flush hook would have."""
    if from_stage_id == to_stage_id:
        return
    tx, shard = _innermost(session), deal_id % SHARDS
    session.info.setdefault(_KEY, []).extend([(tx, from_stage_id, currency, shard, -1, -(amount or 0)),
                                              (tx, to_stage_id, currency, shard, 1, amount or 0)])


def _within(tx: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ended:
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    if previous_transaction.parent is None:
        session.info.pop(_KEY, None)
        return
    session.info[_KEY] = [d for d in pending if not _within(d[0], previous_transaction)]


@event.listens_for(Session, "before_commit")
def _apply_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint release: the deltas wait for the outermost commit
    session.flush()
    apply_pending(session)


def _unapplied(session: Session) -> dict[tuple[int, str, int], list[int]]:
    """The live transaction's recorded deltas summed per (stage_id, currency, shard)."""
    root = session.get_transaction()
    summed: dict[tuple[int, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for tx, stage_id, currency, shard, count, amount in session.info.get(_KEY, ()):
        if root is None or not _within(tx, root):
            continue  # left over from a transaction that ended without a rollback event (closed session)
        summed[(stage_id, currency, shard)][0] += count
        summed[(stage_id, currency, shard)][1] += amount
    return summed


def apply_pending(session: Session) -> None:
    """Upsert the recorded deltas into stage_totals in (stage_id, currency, shard) order; zeros are skipped."""
    summed = _unapplied(session)
    session.info.pop(_KEY, None)
    rows = [(key, count, amount) for key, (count, amount) in sorted(summed.items()) if count or amount]
    if rows:
        # One multi-row upsert (one round trip); its rows are written, and locked, in the order given.
        session.execute(_upsert(session, rows))


def _upsert(session: Session, rows: list[tuple[tuple[int, str, int], int, int]]) -> Any:
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(StageTotal).values([
        {"stage_id": stage_id, "currency": currency, "shard": shard, "deal_count": count, "amount_sum": amount}
        for (stage_id, currency, shard), count, amount in rows
    ])
    table = StageTotal.__table__
    return stmt.on_conflict_do_update(
        index_elements=["stage_id", "currency", "shard"],
        set_={"deal_count": table.c.deal_count + stmt.excluded.deal_count,
              "amount_sum": table.c.amount_sum + stmt.excluded.amount_sum},
    )


def totals(session: Session, stage_ids: list[int]) -> dict[int, tuple[int, list[tuple[str, int]]]]:
    """Per stage: (deal count, [(currency, amount sum)]) from stage_totals, same shape as the GROUP BY.

    Includes this transaction's own not yet applied deltas (a move re-renders its columns before commit).
    """
    if not stage_ids:
        return {}
    stmt = (
        select(StageTotal.stage_id, StageTotal.currency, func.sum(StageTotal.deal_count),
               func.sum(StageTotal.amount_sum))
        .where(StageTotal.stage_id.in_(stage_ids))
        .group_by(StageTotal.stage_id, StageTotal.currency)
    )
    # Executing autoflushes first, so the deltas of pending ORM changes are recorded before they are read.
    found = {(stage, currency): [int(n), int(total)] for stage, currency, n, total in session.execute(stmt)}
    wanted = set(stage_ids)
    for (stage_id, currency, _shard), (count, amount) in _unapplied(session).items():
        if stage_id in wanted:
            row = found.setdefault((stage_id, currency), [0, 0])
            row[0] += count
            row[1] += amount
    out: dict[int, tuple[int, list[tuple[str, int]]]] = {}
    for (stage_id, currency), (count, total) in sorted(found.items()):
        if count == 0:
            continue  # no deals of that currency left in the stage (the GROUP BY would have no group)
        n, sums = out.get(stage_id, (0, []))
        sums.append((currency, total))
        out[stage_id] = (n + count, sums)
    return out


def recount_stage_totals(session: Session, pipeline_id: int | None = None) -> None:
    """Rebuild stage_totals from the deals (all pipelines, or one): after bulk Core writes, or as a repair."""
    if session.get_bind().dialect.name == "postgresql":
        # Writers upsert under ROW EXCLUSIVE: while we recount they wait, then add their deltas on top.
        session.execute(text("LOCK TABLE stage_totals IN EXCLUSIVE MODE"))
    stages = select(Stage.id)
    if pipeline_id is not None:
        stages = stages.where(Stage.pipeline_id == pipeline_id)
    session.execute(delete(StageTotal).where(StageTotal.stage_id.in_(stages)))
    shard = (Deal.id % SHARDS).label("shard")
    grouped = (
        select(Deal.stage_id, Deal.currency, shard, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.stage_id.in_(stages))
        .group_by(Deal.stage_id, Deal.currency, shard)
    )
    columns = ["stage_id", "currency", "shard", "deal_count", "amount_sum"]
    session.execute(insert(StageTotal).from_select(columns, grouped))


def converted(session: Session, sums_by_stage: dict[int, list[tuple[str, int]]]) -> dict[int, Any]:
    """Per stage: its per-currency sums as one kanban.company.Converted total in the company currency (admin-entered
    rates; currencies without one are listed as missing), for stages holding any other currency than it."""
    from kanban import company

    currency = company.settings(session).currency
    wanted = {sid: sums for sid, sums in sums_by_stage.items() if any(code != currency for code, _ in sums)}
    if not wanted:
        return {}
    table = company.rates(session)
    return {sid: company.convert(sums, currency, table) for sid, sums in wanted.items()}
