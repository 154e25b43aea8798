"""POST /api/v1/deals/bulk-move: per-deal outcomes, a single move's guarantees, chunked and set-wise."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select

from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.models import Deal, StageEntry, StageTotal, TimelineEntry
from kanban.services.deals import BULK_CHUNK, move_deal
from robots import scheduling
from robots.actors import BULK_QUEUE, drain
from robots.models import Robot, RobotRun
from tests.api.conftest import error_of
from tests.conftest import make_user


def _robot(runtime: Any, stage_id: int, **extra: Any) -> int:
    with runtime.sessions() as s, s.begin():
        robot = Robot(stage_id=stage_id, kind="add_comment", name="Hello", key="hello",
                      settings={"text": "Hello {{ deal.title }}"}, **extra)
        s.add(robot)
        s.flush()
        return robot.id


def test_bulk_move_moves_every_deal_like_a_single_move(client, admin_h, runtime, pipeline, make_deal,
                                                       monkeypatch):
    ids = [make_deal(f"Deal {n}", amount=100) for n in range(BULK_CHUNK + 30)]  # two transactions
    target = pipeline.stages[1].id
    _robot(runtime, target)
    sent: list[tuple[int, bool]] = []
    real = scheduling._sender
    assert real is not None

    def spy(batches: list[list[int]], *, low: bool = False) -> None:
        sent.extend((len(batch), low) for batch in batches)
        real(batches, low=low)

    monkeypatch.setattr(scheduling, "_sender", spy)
    response = client.post("/api/v1/deals/bulk-move", headers=admin_h, json={"deal_ids": ids, "stage_id": target})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"]["moved"] == len(ids) and sum(body["counts"].values()) == len(ids)
    assert [r["deal_id"] for r in body["results"]] == ids
    assert {(r["result"], r["version"], r["from_stage_id"]) for r in body["results"]} == {
        ("moved", 2, pipeline.stages[0].id)}
    with runtime.sessions() as s:
        deals = s.scalars(select(Deal).where(Deal.id.in_(ids)).order_by(Deal.rank)).all()
        assert {d.stage_id for d in deals} == {target}
        assert [d.id for d in deals] == ids  # the first named on top, the rest in the order given
        entries = {e.deal_id: e for e in s.scalars(select(StageEntry).where(StageEntry.stage_id == target))}
        assert {d.current_entry_id for d in deals} == {e.id for e in entries.values()}
        assert s.scalar(select(func.count()).select_from(StageEntry)
                        .where(StageEntry.stage_id == pipeline.stages[0].id, StageEntry.left_at.is_(None))) == 0
        moved_rows = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "stage_changed")).all()
        assert len(moved_rows) == len(ids) and moved_rows[0].text == "Moved from “New” to “Qualified” (bulk move)"
        events = s.scalars(select(DomainEvent).where(DomainEvent.type == "deal.stage_changed")).all()
        assert sorted(e.deal_id for e in events) == sorted(ids)
        totals = dict(s.execute(select(StageTotal.stage_id, func.sum(StageTotal.deal_count))
                                .group_by(StageTotal.stage_id)).all())
        assert totals.get(target) == len(ids) and not totals.get(pipeline.stages[0].id)
        assert s.scalar(select(func.count()).select_from(RobotRun)) == len(ids)
    # The runs went to the low-priority queue of bulk work, one message per stage entry.
    assert sent == [(1, True)] * len(ids)
    assert BULK_QUEUE in runtime.extras["broker"].get_declared_queues()
    drain(runtime)
    with runtime.sessions() as s:
        assert {r.status for r in s.scalars(select(RobotRun))} == {"done"}
        assert s.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.kind == "comment")) \
            == len(ids)


def test_each_deal_gets_its_own_outcome(client, runtime, pipeline, make_deal, rep, rep_h):
    mine = make_deal("Mine", responsible_id=rep.id)
    stale = make_deal("Stale", responsible_id=rep.id)
    there = make_deal("There", stage=2, responsible_id=rep.id)
    other_user = make_user(runtime, "other@example.com")
    theirs = make_deal("Theirs", responsible_id=other_user.id)
    with runtime.sessions() as s:
        from kanban.services.pipelines import create_pipeline
        with s.begin():
            elsewhere_pipeline = create_pipeline(s, "Other", [{"name": "A"}])
            elsewhere_pipeline_id = elsewhere_pipeline.id
    with runtime.sessions() as s, s.begin():
        from kanban.services.deals import create_deal
        elsewhere = create_deal(s, title="Elsewhere", pipeline_id=elsewhere_pipeline_id, actor=Actor("system"),
                                responsible_id=rep.id).id
    with runtime.sessions() as s, s.begin():
        seen_version = s.get(Deal, stale).version
        move_deal(s, stale, pipeline.stages[1].id, actor=Actor("system"))  # changed since the client saw it
    with runtime.sessions() as s:
        stale_version, mine_version = s.get(Deal, stale).version, s.get(Deal, mine).version
    target = pipeline.stages[2].id
    body = {"deal_ids": [mine, stale, there, theirs, elsewhere, 99999, mine], "stage_id": target,
            "versions": {str(stale): seen_version, str(mine): mine_version}}
    response = client.post("/api/v1/deals/bulk-move", headers=rep_h, json=body)
    assert response.status_code == 200, response.text
    results = {r["deal_id"]: r for r in response.json()["results"]}
    assert len(response.json()["results"]) == 6  # a deal named twice is moved once
    assert {k: r["result"] for k, r in results.items()} == {
        mine: "moved", stale: "conflict", there: "unchanged", theirs: "forbidden", elsewhere: "invalid",
        99999: "not_found"}
    assert results[stale]["version"] == stale_version and results[mine]["version"] == mine_version + 1
    assert response.json()["counts"] == {"moved": 1, "unchanged": 1, "conflict": 1, "forbidden": 1,
                                         "not_found": 1, "invalid": 1, "blocked": 0}
    with runtime.sessions() as s:
        stages = dict(s.execute(select(Deal.id, Deal.stage_id)).all())
    assert stages[mine] == target and stages[stale] == pipeline.stages[1].id
    assert stages[theirs] == pipeline.stages[0].id


def test_bad_requests_move_nothing(client, admin_h, runtime, pipeline, make_deal):
    deal = make_deal()
    url = "/api/v1/deals/bulk-move"
    err = error_of(client.post(url, headers=admin_h, json={"deal_ids": [deal], "stage_id": 999}),
                   422, "validation_error")
    assert "stage_id" in err["fields"]
    err = error_of(client.post(url, headers=admin_h, json={"deal_ids": [], "stage_id": pipeline.stages[1].id}),
                   422, "validation_error")
    assert "deal_ids" in err["fields"]
    err = error_of(client.post(url, headers=admin_h, json={"deal_ids": list(range(1, 1002)),
                                                           "stage_id": pipeline.stages[1].id}), 422, "validation_error")
    assert "at most 1000" in err["fields"]["deal_ids"]
    error_of(client.post(url, headers=admin_h, json={"deal_ids": [deal], "stage_id": pipeline.stages[1].id,
                                                     "versions": {"x": 1}}), 422, "validation_error")
    error_of(client.post(url, headers=admin_h, json={"deal_ids": [deal], "stage_id": pipeline.stages[1].id,
                                                     "versions": {str(deal): "1"}}), 422, "validation_error")
    error_of(client.post(url, headers=admin_h, json={"deal_ids": "1", "stage_id": 1}), 400, "bad_request")
    error_of(client.post(url, json={"deal_ids": [deal], "stage_id": pipeline.stages[1].id}), 401, "unauthorized")
    with runtime.sessions() as s:
        assert s.get(Deal, deal).stage_id == pipeline.stages[0].id


def test_statements_do_not_grow_with_the_deals(runtime, pipeline, make_deal):
    """Set-wise: a chunk costs a fixed number of statements (entries, timeline, runs, stage totals: one each or
    one per shard) plus three per deal — its domain event row, the automations that event may start, and its
    versioned UPDATE — instead of a single move's dozen and more."""
    from kanban.services.deals import bulk_move_chunk

    _robot(runtime, pipeline.stages[1].id)
    small = [make_deal(f"S{n}") for n in range(20)]  # every stage-total shard touched already
    large = [make_deal(f"L{n}") for n in range(70)]

    def statements(ids: list[int]) -> int:
        count = 0

        def seen(*_args: Any) -> None:
            nonlocal count
            count += 1

        event.listen(runtime.engine, "before_cursor_execute", seen)
        try:
            with runtime.sessions() as s, s.begin():
                items = bulk_move_chunk(s, ids, pipeline.stages[1].id, actor=Actor("system"))
                assert {i.result for i in items} == {"moved"}
        finally:
            event.remove(runtime.engine, "before_cursor_execute", seen)
        return count

    few, many = statements(small), statements(large)
    per_deal = (many - few) / (len(large) - len(small))
    assert per_deal <= 3.2, (few, many)
