"""Issue 12 items 1 and 2 (robots side): the deal's decisions ("Why?") and the preview of a move."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kanban import decisions
from kanban.events import Actor
from kanban.models import Base, Deal
from kanban.services.deals import move_deal
from robots import automations
from tests.fake_http import serve


@pytest.fixture
def automation(runtime: Any, admin: Any, test_kinds: None) -> Any:
    """Create an automation with one echo action; returns its id."""

    def make(event: str, **fields: Any) -> int:
        with runtime.sessions() as s, s.begin():
            auto = automations.create_automation(s, {"name": fields.pop("name", event), "event": event, **fields},
                                                 owner_id=admin.id)
            automations.add_action(s, auto.id, {"kind": "test_echo", "key": "echo", "settings": {"text": "x"}})
            return auto.id

    return make


def _decisions(api: Any, deal_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/deals/{deal_id}/decisions")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def test_run_outcomes_ran_scheduled_skipped_cancelled(admin_api, clock, stages, add_robot, new_deal, move,
                                                      run_all):
    add_robot(stages["Qualified"], "now", name="Say hi")
    add_robot(stages["Qualified"], "later", name="Reminder", delay={"type": "after", "seconds": 3600})
    add_robot(stages["Qualified"], "big", name="Big deals only",
              condition={"all": [{"field": "deal.amount", "op": ">", "value": 3000}]})
    deal = new_deal(amount=10000)  # 100.00 in the deal's currency: robots see amounts in major units
    move(deal, stages["Qualified"])
    run_all()
    items = _decisions(admin_api, deal)
    assert _one(items, name="Say hi")["outcome"] == "ran"
    later = _one(items, name="Reminder")
    assert later["outcome"] == "scheduled" and "due at" in later["reason"]
    skipped = _one(items, name="Big deals only")
    assert skipped["outcome"] == "skipped"
    assert "deal.amount is '100.00'" in skipped["reason"] and skipped["values"] == {"deal.amount": "100.00"}
    move(deal, stages["Proposal"])  # leaving the stage cancels the delayed run
    cancelled = _one(_decisions(admin_api, deal), name="Reminder")
    assert cancelled["outcome"] == "cancelled" and cancelled["reason"] == "deal left the stage"
    assert set(cancelled) == {"at", "source", "source_id", "name", "outcome", "reason", "values"}


def test_disabled_robot_is_recorded_inactive_in_the_move_transaction(runtime, admin_api, stages, add_robot,
                                                                     new_deal, move):
    robot = add_robot(stages["Qualified"], "off", name="Disabled one", active=False)
    deal = new_deal()
    # A rolled-back move leaves no decision: it is written in the move's own transaction.
    with pytest.raises(RuntimeError), runtime.sessions() as s, s.begin():
        move_deal(s, deal, stages["Qualified"], actor=Actor("system"))
        assert s.scalar(select(func.count()).select_from(decisions.Decision)) == 1
        raise RuntimeError("roll back")
    assert _decisions(admin_api, deal) == []
    move(deal, stages["Qualified"])
    item = _one(_decisions(admin_api, deal), name="Disabled one")
    assert (item["source"], item["source_id"], item["outcome"]) == ("robot", robot, "inactive")
    assert "“Qualified”" in item["reason"]


def test_automation_outcomes_ran_not_matched_inactive(runtime, admin_api, stages, new_deal, move, automation):
    hit = automation("deal.stage_changed", name="On any move")
    big = automation("deal.stage_changed", name="Big moves",
                     condition={"all": [{"field": "deal.amount", "op": "≥", "value": 1000}]})
    off = automation("deal.stage_changed", name="Switched off", active=False)
    only_title = automation("deal.updated", name="Title watcher", fields=["title"])
    deal = new_deal(amount=1000)
    move(deal, stages["Qualified"])
    items = _decisions(admin_api, deal)
    assert _one(items, source="automation", source_id=hit)["outcome"] == "ran"
    miss = _one(items, source="automation", source_id=big)
    assert miss["outcome"] == "not_matched" and miss["values"] == {"deal.amount": "10.00"}
    assert "needs ≥ 1000" in miss["reason"]
    assert _one(items, source="automation", source_id=off)["outcome"] == "inactive"
    admin_api.patch(f"/api/v1/deals/{deal}", json={"amount": 20})
    watcher = _one(_decisions(admin_api, deal), source="automation", source_id=only_title)
    assert watcher["outcome"] == "not_matched" and "title" in watcher["reason"]


def test_blocked_automation_execution(runtime, admin_api, stages, new_deal, automation):
    from kanban.services.deals import MAX_CAUSE_DEPTH, update_deal

    auto = automation("deal.updated", name="Loopy", triggered_by={"automatic": True})
    deal = new_deal()
    chain = tuple({"type": "robot", "id": n} for n in range(MAX_CAUSE_DEPTH + 1))
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, {"amount": 5}, actor=Actor("robot", 1), cause=chain)
    item = _one(_decisions(admin_api, deal), source="automation", source_id=auto)
    assert item["outcome"] == "blocked" and "deep" in item["reason"]


def test_storage_is_bounded_by_cap_and_retention(runtime, clock, new_deal):
    deal = new_deal()
    old_cap = decisions.cap_per_deal
    decisions.configure(decisions.retention_days, 5)
    try:
        with runtime.sessions() as s, s.begin():
            decisions.record(s, deal, "robot", 1, "ancient", "inactive", "long ago", {"x": "y" * 5000})
        clock.advance(86400 * (decisions.retention_days + 1))
        with runtime.sessions() as s, s.begin():
            for n in range(8):
                decisions.record(s, deal, "robot", n, f"r{n}", "inactive", "why")
        with runtime.sessions() as s:
            names = list(s.scalars(select(decisions.Decision.name).where(decisions.Decision.deal_id == deal)
                                   .order_by(decisions.Decision.id)))
        assert names == ["r3", "r4", "r5", "r6", "r7"]
    finally:
        decisions.configure(decisions.retention_days, old_cap)
    assert len(decisions.summary("y" * 5000)) == decisions.MAX_VALUE_TEXT


def test_decisions_api_errors(client, runtime, admin_api, new_deal):
    # Who may read which deal's decisions is the deal:read rule (tests/access/test_matrix.py).
    deal = new_deal()
    assert client.get(f"/api/v1/deals/{deal}/decisions", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/deals/999999/decisions").status_code == 404
    assert client.get(f"/api/v1/deals/{deal}/decisions?limit=0").status_code == 422


# --- Preview -------------------------------------------------------------------------------------------------

def _counts(runtime: Any) -> dict[str, int]:
    with runtime.sessions() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_preview_lists_robots_and_automations_and_writes_and_sends_nothing(runtime, admin_api, clock, stages,
                                                                         add_robot, new_deal, automation,
                                                                         run_all):
    with serve() as target:
        add_robot(stages["Proposal"], "hook", kind="webhook", name="Tell the ERP",
                  settings={"url": target.url + "/hook", "allow_private": True})
        add_robot(stages["Proposal"], "later", name="Follow up", delay={"type": "after", "seconds": 86400})
        add_robot(stages["Proposal"], "big", name="Big only",
                  condition={"all": [{"field": "deal.amount", "op": ">", "value": 3000}]})
        add_robot(stages["Proposal"], "off", name="Disabled", active=False)
        add_robot(stages["Proposal"], "chained", name="After big", after_previous=True)
        fires = automation("deal.stage_changed", name="On move")
        misses = automation("deal.stage_changed", name="Only big",
                            condition={"all": [{"field": "deal.amount", "op": ">", "value": 3000}]})
        deal = new_deal(amount=10000)
        run_all()
        before = _counts(runtime)
        response = admin_api.post(f"/api/v1/deals/{deal}/preview-move", json={"stage_id": stages["Proposal"]})
        assert response.status_code == 200, response.text
        body = response.json()
        run_all()
        assert _counts(runtime) == before  # not one row added or removed, in any table
        assert target.requests == []  # no outbound call
        with runtime.sessions() as s:
            assert s.get(Deal, deal).stage_id == stages["New"]
        robots = {r["name"]: r for r in body["robots"]}
        assert list(robots) == ["Tell the ERP", "Follow up", "Big only", "Disabled", "After big"]
        assert robots["Tell the ERP"]["would_run"] and robots["Tell the ERP"]["reason"] == "now"
        follow = robots["Follow up"]
        assert follow["would_run"] and follow["due_at"] == (clock.at + timedelta(days=1)).isoformat()
        assert follow["reason"].startswith("in 1 day (")
        big = robots["Big only"]
        assert not big["would_run"] and "deal.amount is '100.00'" in big["reason"]
        assert big["conditions"] == [{"field": "deal.amount", "op": ">", "value": 3000, "actual": "100.00",
                                      "result": False}]
        assert not robots["Disabled"]["would_run"] and robots["Disabled"]["reason"] == "disabled"
        assert robots["After big"]["would_run"] and robots["After big"]["due_at"] is None
        assert "after “Big only” finishes" in robots["After big"]["reason"]
        autos = {a["automation_id"]: a for a in body["automations"]}
        assert autos[fires]["would_fire"] and autos[fires]["actions"] == ["Echo (tests)"]
        assert not autos[misses]["would_fire"] and autos[misses]["outcome"] == "not_matched"
        # The real move does what the preview said: the webhook is called (so the test above can fail).
        assert admin_api.post(f"/api/v1/deals/{deal}/move", json={"stage_id": stages["Proposal"]}).status_code == 200
        run_all()
        assert len(target.requests) == 1


def test_preview_validation_and_won_stage_events(admin_api, stages, new_deal, automation):
    deal = new_deal()
    assert admin_api.post(f"/api/v1/deals/{deal}/preview-move", json={"stage_id": stages["New"]}).status_code == 422
    assert admin_api.post(f"/api/v1/deals/{deal}/preview-move", json={"stage_id": 999999}).status_code == 422
    assert admin_api.post(f"/api/v1/deals/{deal}/preview-move", json={}).status_code == 422
    assert admin_api.post("/api/v1/deals/999999/preview-move", json={"stage_id": stages["Won"]}).status_code == 404
    won = automation("deal.status_changed", name="Celebrate",
                     condition={"all": [{"field": "event.to", "op": "=", "value": "won"}]})
    body = admin_api.post(f"/api/v1/deals/{deal}/preview-move", json={"stage_id": stages["Won"]}).json()
    assert [(a["automation_id"], a["would_fire"]) for a in body["automations"]] == [(won, True)]


def test_unknown_query_parameters_on_write_endpoints_are_refused(admin_api, runtime, stages, new_deal,
                                                                 add_robot):
    deal = new_deal()
    response = admin_api.post(f"/api/v1/deals/{deal}/move?dry_run=1", json={"stage_id": stages["Proposal"]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["fields"] == {"dry_run": "not a parameter of this endpoint"}
    with runtime.sessions() as s:
        assert s.get(Deal, deal).stage_id == stages["New"]  # the typo never performed the real move
    assert admin_api.patch(f"/api/v1/deals/{deal}?force=1", json={"title": "X"}).status_code == 400
    assert admin_api.delete(f"/api/v1/deals/{deal}?really=yes").status_code == 400
    # Declared parameters still work, and reads keep ignoring extras.
    robot = add_robot(stages["New"], "echo")
    assert admin_api.post(f"/api/v1/robots/{robot}/run-existing?dry_run=1").json()["dry_run"] is True
    assert admin_api.get(f"/api/v1/deals/{deal}?whatever=1").status_code == 200
    with runtime.sessions() as s:
        assert s.get(Deal, deal).title == "Acme"


def test_a_robot_run_stopped_by_the_loop_guard_is_blocked(runtime, admin_api, stages, add_robot, new_deal,
                                                          run_all):
    from kanban.services.deals import MAX_CAUSE_DEPTH

    add_robot(stages["Qualified"], "bounce", kind="test_move", name="Bounce", settings={"stage_id": stages["New"]})
    deal = new_deal()
    chain = tuple({"type": "robot", "id": n} for n in range(MAX_CAUSE_DEPTH))
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal, stages["Qualified"], actor=Actor("robot", 999), cause=chain)
    run_all()
    item = _one(_decisions(admin_api, deal), name="Bounce")
    assert item["outcome"] == "blocked" and "deep" in item["reason"]
