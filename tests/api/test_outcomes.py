"""Won / lost / reopen, lost reasons and the pipeline's rule, rotting, probability, deleting a deal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select, update

from kanban import clock
from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.models import Deal
from kanban.queries import BoardFilters, board
from kanban.services.activities import create_activity
from tests.api.conftest import error_of


def _events(runtime, type_):
    with runtime.sessions() as s:
        return list(s.scalars(select(DomainEvent).where(DomainEvent.type == type_).order_by(DomainEvent.id)))


def test_won_lost_reopen_with_reasons(client, admin_h, rep_h, make_deal, pipeline, runtime, rep):
    deal_id = make_deal(responsible_id=rep.id)  # reps change their own deals
    error_of(client.post("/api/v1/lost-reasons", headers=rep_h, json={"name": "Price"}), 403, "forbidden")
    reason = client.post("/api/v1/lost-reasons", headers=admin_h, json={"name": "Price"}).json()
    error_of(client.post("/api/v1/lost-reasons", headers=admin_h, json={"name": "price"}), 409, "conflict")
    won = client.post(f"/api/v1/deals/{deal_id}/won", headers=rep_h).json()
    assert won["status"] == "won" and won["closed_at"] and won["stage_id"] == pipeline.stages[0].id
    lost = client.post(f"/api/v1/deals/{deal_id}/lost", headers=rep_h, json={"reason_id": reason["id"]}).json()
    assert (lost["status"], lost["lost_reason"]) == ("lost", "Price")
    reopened = client.post(f"/api/v1/deals/{deal_id}/reopen", headers=rep_h).json()
    assert (reopened["status"], reopened["lost_reason"], reopened["closed_at"]) == ("open", None, None)
    assert [e.data["to"] for e in _events(runtime, "deal.status_changed")] == ["won", "lost", "open"]
    listed = client.get("/api/v1/deals", headers=rep_h, params={"status": "open"}).json()["items"]
    assert [d["id"] for d in listed] == [deal_id]
    assert client.get("/api/v1/deals", headers=rep_h, params={"status": "won"}).json()["items"] == []
    assert client.delete(f"/api/v1/lost-reasons/{reason['id']}", headers=admin_h).status_code == 204
    assert client.get("/api/v1/lost-reasons", headers=rep_h).json()["items"] == []


def test_lost_reason_required_by_the_pipeline(client, admin_h, make_deal, pipeline):
    deal_id = make_deal()
    changed = client.patch(f"/api/v1/pipelines/{pipeline.id}", headers=admin_h, json={"lost_reason_required": True})
    assert changed.json()["lost_reason_required"] is True
    err = error_of(client.post(f"/api/v1/deals/{deal_id}/lost", headers=admin_h, json={}), 422, "validation_error")
    assert "reason_id" in err["fields"]
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["status"] == "open"
    error_of(client.post(f"/api/v1/deals/{deal_id}/lost", headers=admin_h, json={"reason_id": 999}), 422,
             "validation_error")
    lost = client.post(f"/api/v1/deals/{deal_id}/lost", headers=admin_h, json={"reason": "Went silent"}).json()
    assert lost["lost_reason"] == "Went silent"


def test_entering_won_or_lost_stage_sets_status(client, admin_h, make_deal, pipeline):
    deal_id = make_deal()
    moved = client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h, json={"stage_id": pipeline.stages[5].id})
    assert moved.json()["status"] == "lost"
    back = client.post(f"/api/v1/deals/{deal_id}/move", headers=admin_h, json={"stage_id": pipeline.stages[1].id})
    assert back.json()["status"] == "open"


def test_rotting_and_probability(client, admin_h, make_deal, pipeline, runtime, admin):
    stage = pipeline.stages[0]
    err = error_of(client.patch(f"/api/v1/stages/{stage.id}", headers=admin_h,
                                json={"probability": 101, "rotting_days": 0}), 422, "validation_error")
    assert set(err["fields"]) == {"probability", "rotting_days"}
    body = client.patch(f"/api/v1/stages/{stage.id}", headers=admin_h, json={"probability": 25, "rotting_days": 3})
    assert (body.json()["probability"], body.json()["rotting_days"]) == (25, 3)
    deal_id = make_deal(amount=1000)
    with runtime.sessions() as s, s.begin():
        s.execute(update(Deal).where(Deal.id == deal_id).values(last_activity_at=clock.now() - timedelta(days=4)))
    deal = client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()
    assert deal["rotting"] is True and deal["rotting_days"] == 3
    with runtime.sessions() as s:
        column = board(s, pipeline.id, BoardFilters(), 10)[0]
        assert column.cards[0].rotting and column.weighted_sums == [("USD", 250)]
    # A note resets the rotting clock.
    client.post(f"/api/v1/deals/{deal_id}/notes", headers=admin_h, json={"text": "Talked to them"})
    assert client.get(f"/api/v1/deals/{deal_id}", headers=admin_h).json()["rotting"] is False


def test_board_next_activity_in_one_query_and_filters(runtime, pipeline, make_deal, admin, rep):
    actor = Actor.user(admin.id)
    ids = [make_deal(title=f"D{i}", responsible_id=admin.id if i == 0 else None) for i in range(6)]
    today = clock.now().date()
    with runtime.sessions() as s, s.begin():
        for i, deal_id in enumerate(ids[:4]):
            create_activity(s, {"type": "task", "subject": f"T{i}", "due_date": today + timedelta(days=i - 1),
                                "deal_id": deal_id, "assignee_id": rep.id}, actor=actor)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        with runtime.sessions() as s:
            cards = board(s, pipeline.id, BoardFilters(), 50)[0].cards
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    assert len([q for q in statements if "activities" in q]) == 1
    states = {c.id: (c.next_activity or {}).get("state") for c in cards}
    assert states == {ids[0]: "overdue", ids[1]: "today", ids[2]: "upcoming", ids[3]: "upcoming", ids[4]: None,
                      ids[5]: None}

    def shown(**filters):
        with runtime.sessions() as s:
            return {c.id for c in board(s, pipeline.id, BoardFilters(**filters), 50)[0].cards}

    assert shown(activity="overdue") == {ids[0]}
    assert shown(activity="due_today") == {ids[1]}
    assert shown(activity="no_next_activity") == {ids[4], ids[5]}
    assert shown(mine_id=admin.id) == {ids[0]}
    assert shown(mine_id=rep.id) == set(ids[:4])
    assert shown(status="won") == set()


def test_delete_deal_records_old_values(client, admin_h, make_deal, runtime, rep):
    deal_id = make_deal(title="Doomed")
    client.post(f"/api/v1/deals/{deal_id}/notes", headers=admin_h, json={"text": "bye"})
    client.post("/api/v1/activities", headers=admin_h, json={"type": "call", "subject": "x", "due_date": "2030-01-01",
                                                             "deal_id": deal_id})
    assert client.delete(f"/api/v1/deals/{deal_id}", headers=admin_h).status_code == 204
    error_of(client.get(f"/api/v1/deals/{deal_id}", headers=admin_h), 404, "not_found")
    (deleted,) = _events(runtime, "deal.deleted")
    assert deleted.deal_id == deal_id and deleted.old["title"] == "Doomed"
    assert client.get("/api/v1/activities", headers=admin_h).json()["items"] == []
