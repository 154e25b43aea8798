"""Event automations on the robot engine: every deal event fires, event.* conditions, filters, suppression, loops."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.domain_events import events_suppressed
from kanban.events import Actor
from kanban.models import Deal, TimelineEntry
from kanban.services.deals import create_deal, move_deal, update_deal
from robots import automations
from robots.models import AutomationExecution, RobotRun


@pytest.fixture
def automation(runtime: Any, admin: Any, test_kinds: None) -> Any:
    """Create an automation with actions (robot bodies) through the service; returns its id."""

    def make(event: str, actions: list[dict[str, Any]] | None = None, **fields: Any) -> int:
        with runtime.sessions() as s, s.begin():
            auto = automations.create_automation(s, {"name": fields.pop("name", event), "event": event, **fields},
                                                 owner_id=admin.id)
            for body in actions if actions is not None else [{"kind": "test_echo", "key": "echo",
                                                              "settings": {"text": "{{ event.type }}"}}]:
                automations.add_action(s, auto.id, body)
            return auto.id

    return make


def _runs(runtime: Any, automation_id: int | None = None) -> list[RobotRun]:
    with runtime.sessions() as s:
        stmt = select(RobotRun).where(RobotRun.execution_id.is_not(None)).order_by(RobotRun.id)
        if automation_id is not None:
            stmt = stmt.join(AutomationExecution, AutomationExecution.id == RobotRun.execution_id).where(
                AutomationExecution.automation_id == automation_id)
        return list(s.scalars(stmt))


def _deal(runtime: Any, pipeline: Any, actor: Actor, **values: Any) -> int:
    with runtime.sessions() as s, s.begin():
        return create_deal(s, title=values.pop("title", "Acme"), pipeline_id=pipeline.id, actor=actor, **values).id


DEAL_EVENTS = ["deal.created", "deal.updated", "deal.assigned", "deal.unassigned", "deal.stage_changed"]


@pytest.mark.parametrize("event", DEAL_EVENTS)
def test_each_deal_event_fires_its_automation(runtime, pipeline, admin, rep, automation, run_all, event):
    auto_id = automation(event)
    other = automation("deal.deleted")  # never raised here: must not fire
    actor = Actor.user(admin.id)
    deal_id = _deal(runtime, pipeline, actor, responsible_id=rep.id)
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal_id, {"responsible_id": None}, actor=actor)
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal_id, pipeline.stages[1].id, actor=actor)
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.status, r.outputs["text"]) for r in runs] == [("done", event)]
    assert runs[0].deal_id == deal_id and runs[0].stage_entry_id is None
    assert _runs(runtime, other) == []


def test_event_conditions_and_changed_fields(runtime, pipeline, admin, automation, run_all):
    big = automation("deal.updated", condition={"all": [{"field": "event.new.amount", "op": ">", "value": "1000"},
                                                        {"field": "event.changed", "op": "contains",
                                                         "value": "amount"}]})
    titled = automation("deal.updated", fields=["title"])
    moved = automation("deal.stage_changed", condition={"all": [{"field": "event.to", "op": "=",
                                                                 "value": str(pipeline.stages[2].id)}]})
    actor = Actor.user(admin.id)
    deal_id = _deal(runtime, pipeline, actor)
    for changes in ({"amount": 500}, {"amount": 5000}, {"title": "Acme 2"}):
        with runtime.sessions() as s, s.begin():
            update_deal(s, deal_id, changes, actor=actor)
    for stage in (1, 2):
        with runtime.sessions() as s, s.begin():
            move_deal(s, deal_id, pipeline.stages[stage].id, actor=actor)
    run_all()
    assert len(_runs(runtime, big)) == 1  # 500 is too small; the title change did not change the amount
    assert len(_runs(runtime, titled)) == 1
    assert len(_runs(runtime, moved)) == 1


def test_triggered_by_filters_actors(runtime, pipeline, admin, rep, automation, run_all):
    only_rep = automation("deal.created", triggered_by={"user_ids": [rep.id]})
    rep_or_robots = automation("deal.created", triggered_by={"user_ids": [rep.id], "automatic": True})
    anyone = automation("deal.created")
    _deal(runtime, pipeline, Actor.user(admin.id))
    _deal(runtime, pipeline, Actor.user(rep.id))
    _deal(runtime, pipeline, Actor("robot", 999))
    run_all()
    assert len(_runs(runtime, only_rep)) == 1
    assert len(_runs(runtime, rep_or_robots)) == 2
    assert len(_runs(runtime, anyone)) == 3


def test_suppressed_events_and_inactive_automations_fire_nothing(runtime, pipeline, admin, automation, run_all):
    auto_id = automation("deal.created")
    automation("deal.created", active=False)
    with runtime.sessions() as s, s.begin():
        with events_suppressed():
            create_deal(s, title="Imported", pipeline_id=pipeline.id, actor=Actor.user(admin.id))
    run_all()
    assert _runs(runtime) == []
    _deal(runtime, pipeline, Actor.user(admin.id))
    run_all()
    assert len(_runs(runtime)) == 1 and len(_runs(runtime, auto_id)) == 1


def test_actions_run_top_to_bottom_and_a_false_condition_skips_only_that_action(runtime, pipeline, admin,
                                                                                automation, run_all):
    auto_id = automation("deal.created", actions=[
        {"kind": "test_echo", "key": "first", "settings": {"text": "one"}},
        {"kind": "test_echo", "key": "second", "settings": {"text": "two"},
         "condition": {"all": [{"field": "deal.title", "op": "=", "value": "nope"}]}},
        {"kind": "test_echo", "key": "third", "settings": {"text": "{{ robots.first.text }} three"}},
    ])
    _deal(runtime, pipeline, Actor.user(admin.id))
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.robot_key, r.status) for r in runs] == [("first", "done"), ("second", "skipped"), ("third", "done")]
    assert runs[2].outputs["text"] == "one three"


def test_automation_runs_survive_a_stage_change(runtime, pipeline, admin, automation, run_all, clock):
    auto_id = automation("deal.created", actions=[{"kind": "test_echo", "key": "later",
                                                  "delay": {"type": "after", "seconds": 60}}])
    deal_id = _deal(runtime, pipeline, Actor.user(admin.id))
    with runtime.sessions() as s, s.begin():
        move_deal(s, deal_id, pipeline.stages[1].id, actor=Actor.user(admin.id))
    clock.advance(61)
    run_all()
    assert [r.status for r in _runs(runtime, auto_id)] == ["done"]


def test_turning_an_automation_off_cancels_its_pending_runs(runtime, pipeline, admin, automation, clock):
    auto_id = automation("deal.created", actions=[{"kind": "test_echo", "key": "later",
                                                  "delay": {"type": "after", "seconds": 60}}])
    _deal(runtime, pipeline, Actor.user(admin.id))
    with runtime.sessions() as s, s.begin():
        automations.update_automation(s, auto_id, {"active": False})
    assert [(r.status, r.reason) for r in _runs(runtime, auto_id)] == [("cancelled", automations.DISABLED)]


def test_cross_automation_loop_is_stopped_and_explained(runtime, pipeline, admin, automation, run_all):
    # Two automations feed each other: each change of one field makes the other change the other field.
    ping = automation("deal.updated", fields=["ping"], name="Ping", actions=[
        {"kind": "modify_deal", "key": "pong", "settings": {"fields": {"pong": "{{ event.new['fields.ping'] }}x"}}}])
    pong = automation("deal.updated", fields=["pong"], name="Pong", actions=[
        {"kind": "modify_deal", "key": "ping", "settings": {"fields": {"ping": "{{ event.new['fields.pong'] }}y"}}}])
    deal_id = _deal(runtime, pipeline, Actor.user(admin.id))
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal_id, {"fields": {"ping": "a"}}, actor=Actor.user(admin.id))
    run_all(30)
    with runtime.sessions() as s:
        executions = list(s.scalars(select(AutomationExecution).order_by(AutomationExecution.id)))
        blocked = [e for e in executions if e.status == "blocked"]
        notes = list(s.scalars(select(TimelineEntry).where(TimelineEntry.deal_id == deal_id,
                                                           TimelineEntry.kind == "loop_blocked")))
        deal = s.get(Deal, deal_id)
    assert len(blocked) == 1 and "deep (limit 8)" in (blocked[0].reason or "")
    assert {e.automation_id for e in executions} == {ping, pong}
    assert len(executions) == 10  # the user's change, then 8 automatic hops, then the refused 10th
    assert len(notes) == 1 and "stopped" in notes[0].text
    assert len(deal.fields["ping"]) < 12  # the chain ended


def test_validation_names_fields(runtime, admin, test_kinds):
    with runtime.sessions() as s, s.begin():
        with pytest.raises(Exception) as caught:
            automations.create_automation(s, {"name": "x" * 121, "event": "deal.exploded", "fields": ["a"],
                                              "triggered_by": {"user_ids": [12345]},
                                              "condition": {"all": [{"field": "event.new.amount", "op": "??"}]}},
                                          owner_id=admin.id)
    fields = caught.value.fields
    assert {"name", "event", "fields", "triggered_by.user_ids"} <= set(fields)
    assert any(k.startswith("condition") for k in fields)


def _crm_life(runtime: Any, pipeline: Any, admin: Any) -> tuple[int, int]:
    """Drive every CRM event once on one deal (and its person and organization); returns (deal, other deal)."""
    from kanban.services import activities, notes, outcomes, persons
    from kanban.services.deals import delete_deal

    actor = Actor.user(admin.id)
    with runtime.sessions() as s, s.begin():
        org = persons.create_organization(s, {"name": "Acme Corp"}, actor=actor)
        person = persons.create_person(s, {"name": "Carla", "email": "carla@acme.example",
                                           "organization_id": org.id}, actor=actor)
        deal_id = create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=actor, person_id=person.id).id
        doomed = create_deal(s, title="Doomed", pipeline_id=pipeline.id, actor=actor).id
        ids = (org.id, person.id)
    with runtime.sessions() as s, s.begin():
        notes.add_note(s, deal_id, "Called them", actor=actor)
        activity = activities.create_activity(s, {"type": "call", "subject": "Call back", "due_date": "2030-01-02",
                                                  "deal_id": deal_id}, actor=actor)
        activities.update_activity(s, activity.id, {"subject": "Call back soon"}, actor=actor)
        activities.update_activity(s, activity.id, {"done": True}, actor=actor)
        persons.update_person(s, ids[1], {"phone": "+155501"}, actor=actor)
        persons.update_organization(s, ids[0], {"address": "1 Main St"}, actor=actor)
    with runtime.sessions() as s, s.begin():
        outcomes.mark_won(s, deal_id, actor=actor)
        delete_deal(s, doomed, actor=actor)
    return deal_id, doomed


CRM_EVENTS = ["deal.commented", "deal.status_changed", "activity.created", "activity.updated",
              "activity.completed", "person.updated", "organization.updated"]


@pytest.mark.parametrize("event", CRM_EVENTS)
def test_each_crm_event_fires_its_automation_on_the_deal(runtime, pipeline, admin, automation, run_all, event):
    auto_id = automation(event)
    deal_id, _ = _crm_life(runtime, pipeline, admin)
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.deal_id, r.status, r.outputs["text"]) for r in runs] == [(deal_id, "done", event)]


@pytest.mark.parametrize("event", ["deal.deleted", "person.created", "organization.created"])
def test_events_with_no_deal_to_act_on_run_on_their_record(runtime, pipeline, admin, automation, run_all, event):
    # A deleted deal acts on its snapshot; a new person or organization (no deals yet) on itself
    # (more in test_automation_subjects.py).
    auto_id = automation(event)
    _, doomed = _crm_life(runtime, pipeline, admin)
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.deal_id, r.status, r.outputs["text"]) for r in runs] == [(None, "done", event)]


def test_too_many_automatic_executions_on_one_deal_are_stopped(runtime, pipeline, admin, automation):
    from robots.matching import MAX_AUTO_EXECUTIONS

    auto_id = automation("deal.updated")
    deal_id = _deal(runtime, pipeline, Actor.user(admin.id))
    for n in range(MAX_AUTO_EXECUTIONS + 1):
        with runtime.sessions() as s, s.begin():
            update_deal(s, deal_id, {"title": f"Acme {n}"}, actor=Actor("robot", 999))
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal_id, {"title": "By hand"}, actor=Actor.user(admin.id))  # users are never rate-limited
    with runtime.sessions() as s:
        statuses = [e.status for e in s.scalars(select(AutomationExecution).where(
            AutomationExecution.automation_id == auto_id).order_by(AutomationExecution.id))]
    assert statuses == ["scheduled"] * MAX_AUTO_EXECUTIONS + ["blocked", "scheduled"]
