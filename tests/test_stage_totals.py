"""stage_totals stays equal to a fresh GROUP BY over the deals, through every kind of deal write."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from kanban import clock, stage_totals
from kanban.events import Actor
from kanban.models import Deal, Stage, StageTotal
from kanban.queries import BoardFilters, aggregates
from kanban.services.deals import create_deal, move_deal, update_deal
from kanban.services.pipelines import create_pipeline, delete_stage
from kanban.stage_totals import recount_stage_totals, totals
from tests.conftest import login

CURRENCIES = ("USD", "EUR", "GBP")


class Boom(Exception):
    """Raised to roll a transaction back."""


def group_by(session: Any) -> dict[tuple[int, str], tuple[int, int]]:
    """What the deals say: (stage, currency) -> (count, sum)."""
    rows = session.execute(
        select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.amount)).group_by(Deal.stage_id,
                                                                                             Deal.currency)
    )
    return {(s, c): (int(n), int(t)) for s, c, n, t in rows}


def kept(session: Any) -> dict[tuple[int, str], tuple[int, int]]:
    """What stage_totals says, shards summed; a (stage, currency) with no deals must also have no amount."""
    summed: dict[tuple[int, str], tuple[int, int]] = {}
    for row in session.scalars(select(StageTotal)):
        n, total = summed.get((row.stage_id, row.currency), (0, 0))
        summed[(row.stage_id, row.currency)] = (n + int(row.deal_count), total + int(row.amount_sum))
    assert all(total == 0 for n, total in summed.values() if n == 0), summed
    return {key: value for key, value in summed.items() if value[0] != 0}


def assert_board_reads_own_writes(session: Any) -> None:
    """Inside a transaction the unfiltered board's numbers equal a GROUP BY (unapplied deltas included)."""
    expected: dict[int, tuple[int, list]] = {}
    for (stage, cur), (n, total) in sorted(group_by(session).items()):
        count, sums = expected.get(stage, (0, []))
        expected[stage] = (count + n, [*sums, (cur, total)])
    assert totals(session, list(session.scalars(select(Stage.id)))) == expected


def assert_exact(runtime: Any) -> None:
    with runtime.sessions() as s:
        assert kept(s) == group_by(s)


def _live_stages(s: Any, pipeline_id: int) -> list[int]:
    from kanban.queries import stages_of

    return [st.id for st in stages_of(s, pipeline_id)]


def _random_op(s: Any, rng: random.Random, pipeline_id: int, actor: Actor) -> None:
    stages = _live_stages(s, pipeline_id)
    deal_ids = list(s.scalars(select(Deal.id).where(Deal.pipeline_id == pipeline_id)))
    op = rng.choice(["create", "move", "move", "amount", "currency", "both", "title"] if deal_ids else ["create"])
    if op == "create":
        create_deal(s, title=f"D{rng.random()}", pipeline_id=pipeline_id, stage_id=rng.choice(stages), actor=actor,
                    amount=rng.randint(0, 10**6), currency=rng.choice(CURRENCIES))
    elif op == "move":
        move_deal(s, rng.choice(deal_ids), rng.choice(stages), actor=actor)
    else:
        changes: dict[str, Any] = {"title": f"T{rng.random()}"}
        if op in ("amount", "both"):
            changes["amount"] = rng.randint(0, 10**6)
        if op in ("currency", "both"):
            changes["currency"] = rng.choice(CURRENCIES).lower()
        update_deal(s, rng.choice(deal_ids), changes, actor=actor)


def test_random_writes_keep_totals_exact(runtime, pipeline, rep):
    rng = random.Random(7)
    actor = Actor.user(rep.id)
    for step in range(120):
        kind = rng.random()
        if kind < 0.15:
            with pytest.raises(Boom), runtime.sessions() as s, s.begin():
                for _ in range(rng.randint(1, 3)):
                    _random_op(s, rng, pipeline.id, actor)
                raise Boom  # the whole transaction rolls back: its deltas must go with it
        elif kind < 0.3:
            with runtime.sessions() as s, s.begin():
                _random_op(s, rng, pipeline.id, actor)
                nested = s.begin_nested()
                _random_op(s, rng, pipeline.id, actor)
                nested.rollback() if rng.random() < 0.5 else nested.commit()
                _random_op(s, rng, pipeline.id, actor)
        else:
            with runtime.sessions() as s, s.begin():
                for _ in range(rng.randint(1, 4)):
                    _random_op(s, rng, pipeline.id, actor)
                    assert_board_reads_own_writes(s)
        if step in (60, 100):
            with runtime.sessions() as s, s.begin():
                stages = _live_stages(s, pipeline.id)
                delete_stage(s, stages[1], actor=actor, move_to=stages[-1])
        assert_exact(runtime)
    with runtime.sessions() as s:
        assert sum(n for n, _ in group_by(s).values()) > 30  # the sequence did real work


def test_move_there_and_back_in_one_transaction_writes_nothing(runtime, pipeline, rep):
    actor = Actor.user(rep.id)
    new, won = pipeline.stages[0].id, pipeline.stages[4].id
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="A", pipeline_id=pipeline.id, stage_id=new, actor=actor, amount=500)
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal.id, won, actor=actor)
        move_deal(s, deal.id, new, actor=actor)
    with runtime.sessions() as s:
        assert {(r.stage_id, r.currency): r.deal_count for r in s.scalars(select(StageTotal))} == {(new, "USD"): 1}
    assert_exact(runtime)


def test_recount_repairs_after_core_writes_and_only_touches_its_pipeline(runtime, pipeline, rep):
    actor = Actor.user(rep.id)
    with runtime.sessions() as s, s.begin():
        other = create_pipeline(s, "Other", [{"name": "A"}, {"name": "B"}])
        other_id, other_stage = other.id, other.stages[0].id
        create_deal(s, title="kept", pipeline_id=other_id, stage_id=other_stage, actor=actor, amount=7)
    at = clock.now()
    with runtime.sessions() as s, s.begin():
        s.execute(insert(Deal), [
            {"pipeline_id": pipeline.id, "stage_id": pipeline.stages[i % 3].id, "title": f"Bulk {i}", "amount": i,
             "currency": CURRENCIES[i % 2], "fields": {}, "tags": [], "version": 1, "rank": float(i),
             "stage_entered_at": at, "created_at": at, "updated_at": at} for i in range(50)
        ])
    with runtime.sessions() as s:
        assert kept(s) != group_by(s)  # Core writes bypass the hooks ...
    with runtime.sessions() as s, s.begin():
        # ... and so does a Core write to the other pipeline, which a one-pipeline recount must leave alone.
        s.execute(update(Deal).where(Deal.pipeline_id == other_id).values(amount=9))
        recount_stage_totals(s, pipeline.id)
    with runtime.sessions() as s:
        assert kept(s)[(other_stage, "USD")] == (1, 7)
        assert {k: v for k, v in kept(s).items() if k[0] != other_stage} == {
            k: v for k, v in group_by(s).items() if k[0] != other_stage}
    with runtime.sessions() as s, s.begin():
        recount_stage_totals(s)
    assert_exact(runtime)


def _mover(runtime: Any, deal_ids: list[int], stages: list[int], actor: Actor, seed: int, errors: list) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(25):
            with runtime.sessions() as s, s.begin():
                move_deal(s, rng.choice(deal_ids), rng.choice(stages), actor=actor)
                if rng.random() < 0.3:
                    update_deal(s, rng.choice(deal_ids), {"amount": rng.randint(1, 999),
                                                          "currency": rng.choice(CURRENCIES)}, actor=actor)
    except Exception as exc:  # noqa: BLE001 - a thread boundary: the test asserts the list is empty
        errors.append(exc)


@pytest.mark.parametrize("shards", [1, stage_totals.SHARDS])
def test_concurrent_moves_keep_totals_exact_without_deadlock(runtime, pipeline, rep, shards, monkeypatch):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers only interleave on PostgreSQL (SQLite serialises them)")
    monkeypatch.setattr(stage_totals, "SHARDS", shards)  # one shard: every mover contends for the same rows
    actor = Actor.user(rep.id)
    stages = [st.id for st in pipeline.stages]
    with runtime.sessions() as s, s.begin():
        ids = [create_deal(s, title=f"C{i}", pipeline_id=pipeline.id, stage_id=stages[i % 6], actor=actor,
                           amount=100 + i, currency=CURRENCIES[i % 3]).id for i in range(48)]
    errors: list[BaseException] = []
    # Each thread owns its deals (no deal-row lock cycles), so any deadlock would come from stage_totals.
    threads = [threading.Thread(target=_mover, args=(runtime, ids[i::8], stages, actor, i, errors))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert_exact(runtime)


def _board_numbers(client: Any, url: str) -> dict[str, tuple[int, list]]:
    return {c.stage.name: (c.count, c.sums) for c in client.get(url).context["columns"]}


def test_board_totals_match_the_filtered_group_by(client, runtime, pipeline, rep):
    actor = Actor.user(rep.id)
    with runtime.sessions() as s, s.begin():
        for i in range(12):
            create_deal(s, title=f"Deal {i}", pipeline_id=pipeline.id, stage_id=pipeline.stages[i % 4].id,
                        actor=actor, amount=1000 * i, currency=CURRENCIES[i % 2], responsible_id=rep.id)
        move_deal(s, 1, pipeline.stages[5].id, actor=actor)
        update_deal(s, 2, {"amount": 5, "currency": "gbp"}, actor=actor)
    login(client, rep.email)
    base = f"/board?pipeline_id={pipeline.id}"
    plain = _board_numbers(client, base)
    assert plain == _board_numbers(client, base + f"&responsible_id={rep.id}")  # every deal is rep's
    assert plain == _board_numbers(client, base + "&q=Deal")  # every title matches
    assert sum(n for n, _ in plain.values()) == 12 and plain["Lost"][0] == 1
    with runtime.sessions() as s:
        ids = [st.id for st in pipeline.stages]
        assert aggregates(s, ids, BoardFilters()) == aggregates(s, ids, BoardFilters(responsible_id=rep.id))
    column = client.get(f"/board/columns/{pipeline.stages[1].id}").context["col"]
    assert (column.count, column.sums) == plain["Qualified"]
