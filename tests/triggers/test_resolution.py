"""Resolution: later stages only (unless allow_backward), earliest stage wins, conditions, reasons, cause chain."""

from __future__ import annotations

from kanban.models import StageEntry
from tests.triggers.conftest import add_trigger, entries, make_deal, stage_of, timeline_texts
from triggers.registry import Occurrence
from triggers.resolution import fire


def _fire(runtime, deal_id, kind="email_opened", data=None, cause=()):
    with runtime.sessions() as s, s.begin():
        return fire(s, deal_id, [kind], Occurrence(kind, deal_id, data or {}, 7, cause))


def test_earliest_later_stage_wins(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Won"], "email_opened")
    proposal, _ = add_trigger(runtime, stages["Proposal"], "email_opened", name="To proposal")
    outcome = _fire(runtime, deal)
    assert outcome.status == "processed" and outcome.trigger_id == proposal
    assert stage_of(runtime, deal) == stages["Proposal"] and entries(runtime, deal) == 2


def test_backward_blocked_unless_allowed(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Invoice"])
    add_trigger(runtime, stages["Qualified"], "email_opened", name="Back")
    outcome = _fire(runtime, deal)
    assert outcome.status == "ignored" and "already past “Qualified”" in outcome.text
    assert stage_of(runtime, deal) == stages["Invoice"]
    add_trigger(runtime, stages["Proposal"], "email_opened", name="Allowed back", allow_backward=True)
    assert _fire(runtime, deal).status == "processed"
    assert stage_of(runtime, deal) == stages["Proposal"]


def test_already_in_the_stage_is_a_reason(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["Proposal"])
    add_trigger(runtime, stages["Proposal"], "email_opened")
    outcome = _fire(runtime, deal)
    assert outcome.status == "ignored" and "already in “Proposal”" in outcome.text


def test_condition_false_falls_through_to_next_stage(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"], amount=500)
    add_trigger(runtime, stages["Qualified"], "email_opened", name="Big",
                condition={"all": [{"field": "deal.amount", "op": ">", "value": 1000}]})
    outcome = _fire(runtime, deal)
    assert outcome.status == "ignored" and "deal.amount is 500" in outcome.text
    assert any("condition not met" in t for t in timeline_texts(runtime, deal))
    add_trigger(runtime, stages["Proposal"], "email_opened", name="Any",
                condition={"any": [{"field": "contact.email", "op": "empty"}]})
    assert _fire(runtime, deal).status == "processed"
    assert stage_of(runtime, deal) == stages["Proposal"]


def test_no_trigger_and_inactive_trigger(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    assert "no active trigger" in _fire(runtime, deal).text
    add_trigger(runtime, stages["Won"], "email_opened", active=False)
    add_trigger(runtime, stages["Won"], "invoice_paid")  # another kind does not react
    assert _fire(runtime, deal).status == "ignored" and stage_of(runtime, deal) == stages["New"]


def test_cause_chain_and_loop_guard(runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    trigger, _ = add_trigger(runtime, stages["Won"], "email_opened")
    _fire(runtime, deal, cause=({"type": "robot", "id": 1, "run_id": 2},))
    with runtime.sessions() as s:
        entry = s.query(StageEntry).filter_by(deal_id=deal, stage_id=stages["Won"]).one()
        assert entry.actor_type == "trigger" and entry.actor_id == trigger
        assert entry.cause == [{"type": "robot", "id": 1, "run_id": 2},
                               {"type": "trigger", "id": trigger, "event_id": 7}]
    other = make_deal(runtime, pipeline, stages["New"])
    deep = tuple({"type": "robot", "id": i} for i in range(20))
    outcome = _fire(runtime, other, cause=deep)
    assert outcome.status == "ignored" and "blocked" in outcome.text
    assert stage_of(runtime, other) == stages["New"]


def test_missing_deal(runtime, pipeline, stages):
    assert _fire(runtime, 99999).text == "deal 99999 not found"
