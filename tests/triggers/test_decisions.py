"""Issue 12 item 1 (triggers side): every trigger an event was weighed against is on the deal's "Why?" list."""

from __future__ import annotations

from typing import Any

from kanban.events import Actor
from kanban.services.deals import MAX_CAUSE_DEPTH, update_deal
from tests.triggers.conftest import add_trigger, make_deal, stage_of


def _decisions(api: Any, deal_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/deals/{deal_id}/decisions")
    assert response.status_code == 200, response.text
    return [d for d in response.json()["items"] if d["source"] == "trigger"]


def _change(runtime: Any, deal: int, values: dict[str, Any], **kw: Any) -> None:
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, values, actor=kw.pop("actor", Actor("system")), **kw)


def test_a_field_change_that_matched_no_trigger_is_recorded(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    _change(runtime, deal, {"amount": 7})
    [item] = _decisions(admin_api, deal)
    assert (item["outcome"], item["source_id"]) == ("not_matched", None)
    assert "field changed: amount" in item["reason"] and "no active trigger" in item["reason"]


def test_ran_lost_to_earlier_not_matched_and_inactive(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"], amount=100)
    early, _ = add_trigger(runtime, stages["Qualified"], "field_changed", settings={"field": "amount"},
                           name="Qualify on amount")
    late, _ = add_trigger(runtime, stages["Invoice"], "field_changed", settings={"field": "amount"},
                          name="Invoice on amount")
    picky, _ = add_trigger(runtime, stages["Proposal"], "field_changed", settings={"field": "amount"},
                           name="Proposal when big",
                           condition={"all": [{"field": "deal.amount", "op": "≥", "value": 100000}]})
    off, _ = add_trigger(runtime, stages["Won"], "field_changed", settings={"field": "amount"}, name="Off",
                         active=False)
    _change(runtime, deal, {"amount": 500})
    assert stage_of(runtime, deal) == stages["Qualified"]
    items = {d["source_id"]: d for d in _decisions(admin_api, deal)}
    assert items[early]["outcome"] == "ran" and "“Qualified”" in items[early]["reason"]
    lost = items[late]
    assert lost["outcome"] == "lost_to_earlier"
    assert "“Qualify on amount” on the earlier stage “Qualified” won" in lost["reason"]
    assert items[picky]["outcome"] == "not_matched" and items[picky]["values"] == {"deal.amount": 500}
    assert items[off]["outcome"] == "inactive"
    # Now in Qualified: the Qualified trigger is not a candidate any more, and says so.
    _change(runtime, deal, {"amount": 600})
    again = [d for d in _decisions(admin_api, deal) if d["source_id"] == early]
    assert again[0]["outcome"] == "not_matched" and "already in “Qualified”" in again[0]["reason"]


def test_a_trigger_stopped_by_the_loop_guard_is_blocked(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    trigger, _ = add_trigger(runtime, stages["Proposal"], "field_changed", settings={"field": "amount"})
    chain = tuple({"type": "robot", "id": n} for n in range(MAX_CAUSE_DEPTH + 1))
    _change(runtime, deal, {"amount": 9}, actor=Actor("robot", 1), cause=chain)
    assert stage_of(runtime, deal) == stages["New"]
    blocked = [d for d in _decisions(admin_api, deal) if d["source_id"] == trigger]
    assert [d["outcome"] for d in blocked] == ["blocked"]
