"""Automations without a deal to act on: deal.deleted (the deleted deal's snapshot), person and organization
events with no open deal, activities without a deal; the Pipedrive record actions; received email per event."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban.crm_models import Activity
from kanban.domain_events import DomainEvent
from kanban.events import Actor
from kanban.models import Deal, EmailMessage, Notification, Organization, Person
from kanban.services import activities, persons
from kanban.services.deals import create_deal, delete_deal, update_deal
from robots import automations
from robots.models import AutomationExecution, RobotRun

ECHO = {"kind": "test_echo", "key": "echo",
        "settings": {"text": "{{ subject.type }}|{{ deal.title }}|{{ person.name }}|{{ organization.name }}"}}


@pytest.fixture
def automation(runtime: Any, admin: Any, test_kinds: None) -> Any:
    def make(event: str, actions: list[dict[str, Any]] | None = None, **fields: Any) -> int:
        with runtime.sessions() as s, s.begin():
            auto = automations.create_automation(s, {"name": fields.pop("name", event), "event": event, **fields},
                                                 owner_id=admin.id)
            for body in actions if actions is not None else [ECHO]:
                automations.add_action(s, auto.id, body)
            return auto.id

    return make


def _runs(runtime: Any, automation_id: int) -> list[RobotRun]:
    with runtime.sessions() as s:
        return list(s.scalars(select(RobotRun)
                              .join(AutomationExecution, AutomationExecution.id == RobotRun.execution_id)
                              .where(AutomationExecution.automation_id == automation_id)
                              .order_by(RobotRun.id)))


def _executions(runtime: Any, automation_id: int) -> list[AutomationExecution]:
    with runtime.sessions() as s:
        return list(s.scalars(select(AutomationExecution).where(AutomationExecution.automation_id == automation_id)
                              .order_by(AutomationExecution.id)))


def _person(runtime: Any, admin: Any, name: str = "Carla", email: str = "carla@acme.example",
            org: str | None = "Acme Corp") -> tuple[int, int | None]:
    with runtime.sessions() as s, s.begin():
        org_id = persons.create_organization(s, {"name": org}, actor=Actor.user(admin.id)).id if org else None
        person = persons.create_person(s, {"name": name, "email": email, "organization_id": org_id},
                                       actor=Actor.user(admin.id))
        return person.id, org_id


def test_deal_deleted_runs_on_the_deleted_deals_snapshot(runtime, pipeline, admin, rep, automation, run_all):
    auto_id = automation("deal.deleted", actions=[
        {**ECHO, "settings": {"text": "{{ deal.title }}|{{ deal.deleted }}|{{ responsible.name }}|"
                                      "{{ person.name }}|{{ stage.name }}|{{ event.actor_id }}"}},
        {"kind": "modify_deal", "key": "retitle", "settings": {"fields": {"title": "x"}}},
        {"kind": "notify", "key": "tell", "settings": {"text": "Deal deleted: {{ deal.title }}",
                                                       "recipients": [{"type": "responsible"}]}},
    ])
    person_id, _ = _person(runtime, admin)
    with runtime.sessions() as s, s.begin():
        deal_id = create_deal(s, title="Doomed", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                              responsible_id=rep.id, person_id=person_id).id
    with runtime.sessions() as s, s.begin():
        delete_deal(s, deal_id, actor=Actor.user(admin.id))
    run_all()
    runs = _runs(runtime, auto_id)
    stage = pipeline.stages[0].name
    assert [(r.robot_key, r.status, r.deal_id) for r in runs] == [
        ("echo", "done", None), ("retitle", "skipped", None), ("tell", "done", None)]
    assert runs[0].outputs["text"] == f"Doomed|True|{rep.name}|Carla|{stage}|{admin.id}"
    assert "needs the deal, which the event deleted" in (runs[1].reason or "")
    [execution] = _executions(runtime, auto_id)
    assert (execution.deal_id, execution.subject_type, execution.subject_id) == (None, "deal", deal_id)
    with runtime.sessions() as s:
        texts = [n.text for n in s.scalars(select(Notification).where(Notification.user_id == rep.id))]
    assert "Deal deleted: Doomed" in texts


@pytest.mark.parametrize(("event", "expected"), [("person.created", "person|||"),
                                                 ("organization.created", "organization|||Acme Corp")])
def test_a_new_person_or_organization_is_the_subject(runtime, admin, automation, run_all, event, expected):
    auto_id = automation(event)
    person_id, org_id = _person(runtime, admin)
    run_all()
    runs = _runs(runtime, auto_id)
    # person.created fires before the person is read back, so the values are the person's as they are now
    want = "person||Carla|Acme Corp" if event == "person.created" else expected
    assert [(r.status, r.deal_id, r.stage_id, r.outputs["text"]) for r in runs] == [("done", None, None, want)]
    [execution] = _executions(runtime, auto_id)
    assert (execution.subject_type, execution.subject_id) == (event.split(".")[0],
                                                              person_id if event == "person.created" else org_id)


def test_updates_run_on_the_open_deals_else_on_the_record(runtime, pipeline, admin, automation, run_all):
    person_auto = automation("person.updated")
    org_auto = automation("organization.updated")
    lonely, lonely_org = _person(runtime, admin, "Lone", "lone@x.example", "Lone Inc")
    dealt, dealt_org = _person(runtime, admin, "Dealt", "dealt@x.example", "Dealt Inc")
    with runtime.sessions() as s, s.begin():
        deal_id = create_deal(s, title="Deal", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                              person_id=dealt).id
        for pid, oid in ((lonely, lonely_org), (dealt, dealt_org)):
            persons.update_person(s, pid, {"phone": "+15550100"}, actor=Actor.user(admin.id))
            persons.update_organization(s, oid, {"address": "1 Main St"}, actor=Actor.user(admin.id))
    run_all()
    for auto_id, lonely_subject in ((person_auto, ("person", lonely)), (org_auto, ("organization", lonely_org))):
        assert [(e.subject_type, e.subject_id, e.deal_id) for e in _executions(runtime, auto_id)] == [
            (*lonely_subject, None), ("deal", deal_id, deal_id)]
        assert [r.status for r in _runs(runtime, auto_id)] == ["done", "done"]


def test_an_activity_without_a_deal_runs_on_its_person(runtime, admin, automation, run_all):
    auto_id = automation("activity.created")
    person_id, _ = _person(runtime, admin)
    with runtime.sessions() as s, s.begin():
        activities.create_activity(s, {"type": "call", "subject": "Intro", "due_date": "2030-01-02",
                                       "person_id": person_id}, actor=Actor.user(admin.id))
        activities.create_activity(s, {"type": "task", "subject": "Alone", "due_date": "2030-01-02"},
                                   actor=Actor.user(admin.id))  # no deal, no person: nothing to act on
    run_all()
    assert [(r.status, r.outputs["text"]) for r in _runs(runtime, auto_id)] == [("done", "person||Carla|Acme Corp")]


def test_a_pipelines_automation_never_acts_on_a_person_without_deal(runtime, pipeline, admin, automation, run_all):
    auto_id = automation("person.created", pipeline_id=pipeline.id)
    _person(runtime, admin)
    run_all()
    assert _executions(runtime, auto_id) == []


def test_actions_act_on_the_person(runtime, admin, automation, run_all):
    auto_id = automation("person.created", actions=[
        {"kind": "create_activity", "key": "call", "settings": {"type": "call", "subject": "Welcome {{ person.name }}",
                                                                "assignee": {"type": "user", "id": admin.id}}},
        {"kind": "update_person", "key": "phone", "settings": {"fields": {"phone": "+15550199"}}},
        {"kind": "email_client", "key": "mail", "settings": {"subject": "Hello {{ contact.name }}",
                                                             "body": "<p>Welcome</p>"}},
        {"kind": "add_tag", "key": "tag", "settings": {"tags": ["new"]}},
        {"kind": "test_echo", "key": "after", "settings": {"text": "{{ robots.call.activity_id }}"}},
    ])
    person_id, _ = _person(runtime, admin)
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.robot_key, r.status) for r in runs] == [("call", "done"), ("phone", "done"), ("mail", "done"),
                                                       ("tag", "skipped"), ("after", "done")]
    assert "person #" in (runs[3].reason or "") and "no open deal" in (runs[3].reason or "")
    with runtime.sessions() as s:
        activity = s.get(Activity, runs[0].outputs["activity_id"])
        assert (activity.person_id, activity.deal_id, activity.subject) == (person_id, None, "Welcome Carla")
        assert s.get(Person, person_id).phone == "+15550199"
        mail = s.get(EmailMessage, runs[2].outputs["message_id"])
        assert (mail.to_address, mail.deal_id, mail.subject) == ("carla@acme.example", None, "Hello Carla")
        # the actions' changes raised events in turn, caused by the robots
        updated = s.scalars(select(DomainEvent).where(DomainEvent.type == "person.updated")).one()
        assert updated.actor_type == "robot" and updated.cause


def test_the_loop_guard_stops_a_chain_on_an_organization(runtime, admin, automation, run_all):
    auto_id = automation("organization.updated", actions=[
        {"kind": "update_organization", "key": "grow",
         "settings": {"fields": {"address": "{{ organization.address }}x"}}}])
    _, org_id = _person(runtime, admin)
    with runtime.sessions() as s, s.begin():
        persons.update_organization(s, org_id, {"address": "a"}, actor=Actor.user(admin.id))
    run_all(30)
    executions = _executions(runtime, auto_id)
    assert [e.status for e in executions][-1] == "blocked" and "deep (limit 8)" in (executions[-1].reason or "")
    assert all(e.subject_type == "organization" for e in executions)
    with runtime.sessions() as s:
        assert len(s.get(Organization, org_id).address or "") < 12


# --- Pipedrive record actions -------------------------------------------------------------------------------

def test_delete_deal_keeps_its_history_and_the_chain_goes_on(runtime, pipeline, admin, automation, run_all):
    delete = automation("deal.updated", name="Delete junk", condition={"all": [
        {"field": "deal.title", "op": "contains", "value": "junk"}]}, actions=[
        {"kind": "delete_deal", "key": "drop"},
        {"kind": "test_echo", "key": "after",
         "settings": {"text": "{{ robots.drop.title }} gone ({{ deal.title }}, {{ deal.deleted }})"}}])
    on_deleted = automation("deal.deleted")
    with runtime.sessions() as s, s.begin():
        deal_id = create_deal(s, title="Lead", pipeline_id=pipeline.id, actor=Actor.user(admin.id)).id
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal_id, {"title": "junk lead"}, actor=Actor.user(admin.id))
    run_all()
    with runtime.sessions() as s:
        assert s.get(Deal, deal_id) is None
        event = s.scalars(select(DomainEvent).where(DomainEvent.type == "deal.deleted")).one()
    assert event.actor_type == "robot" and len(event.cause) == 1
    assert [(r.robot_key, r.status, r.outputs.get("text")) for r in _runs(runtime, delete)] == [
        ("drop", "done", None), ("after", "done", "junk lead gone (junk lead, True)")]
    assert [(e.deal_id, e.subject_id) for e in _executions(runtime, delete)] == [(None, deal_id)]
    assert [r.outputs["text"] for r in _runs(runtime, on_deleted)] == ["deal|junk lead||"]


def test_delete_deal_in_a_stage_fails_saying_why(runtime, pipeline, add_robot, new_deal, run_all):
    add_robot(pipeline.stages[1].id, "drop", kind="delete_deal")
    deal_id = new_deal(pipeline.stages[1].id)
    run_all()
    with runtime.sessions() as s:
        run = s.scalars(select(RobotRun).where(RobotRun.deal_id == deal_id)).one()
        assert s.get(Deal, deal_id) is not None
    assert run.status == "failed" and "use an automation" in (run.error or "")


def test_update_and_delete_activity(runtime, pipeline, admin, automation, run_all):
    update = automation("activity.created", condition={"all": [
        {"field": "event.new.subject", "op": "contains", "value": "call"}]}, actions=[
        {"kind": "update_activity", "key": "edit",
         "settings": {"fields": {"subject": "{{ event.new.subject }} (planned)", "due_date": "2031-02-03"},
                      "mark": "done"}}])
    delete = automation("activity.created", condition={"all": [
        {"field": "event.new.subject", "op": "contains", "value": "spam"}]}, actions=[
        {"kind": "delete_activity", "key": "drop"}])
    completed = automation("activity.completed")
    with runtime.sessions() as s, s.begin():
        deal_id = create_deal(s, title="Lead", pipeline_id=pipeline.id, actor=Actor.user(admin.id)).id
        keep = activities.create_activity(s, {"type": "call", "subject": "First call", "due_date": "2030-01-02",
                                              "deal_id": deal_id}, actor=Actor.user(admin.id)).id
        spam = activities.create_activity(s, {"type": "task", "subject": "spam", "due_date": "2030-01-02",
                                              "deal_id": deal_id}, actor=Actor.user(admin.id)).id
    run_all()
    with runtime.sessions() as s:
        kept = s.get(Activity, keep)
        assert (kept.subject, kept.due_date.isoformat(), kept.done) == ("First call (planned)", "2031-02-03", True)
        assert s.get(Activity, spam) is None
    assert [r.status for r in _runs(runtime, update) + _runs(runtime, delete)] == ["done", "done"]
    assert [r.status for r in _runs(runtime, completed)] == ["done"]  # the action's change raised its event


def test_update_activity_refuses_bad_values_for_good(runtime, pipeline, admin, automation, run_all):
    auto_id = automation("activity.created", actions=[
        {"kind": "update_activity", "key": "edit", "settings": {"fields": {"due_date": "someday"}}},
        {"kind": "delete_activity", "key": "other", "settings": {"activity": "999999"}, "after_previous": False}])
    person_id, _ = _person(runtime, admin)
    with runtime.sessions() as s, s.begin():
        activities.create_activity(s, {"type": "call", "subject": "Call", "due_date": "2030-01-02",
                                       "person_id": person_id}, actor=Actor.user(admin.id))
    run_all()
    runs = _runs(runtime, auto_id)
    assert [(r.status, r.attempts) for r in runs] == [("failed", 1), ("failed", 1)]
    assert "due_date" in (runs[0].error or "") and "does not exist" in (runs[1].error or "")


def test_create_and_update_organization_and_delete_person(runtime, pipeline, admin, automation, run_all):
    created = automation("deal.created", actions=[
        {"kind": "create_organization", "key": "org", "settings": {"name": "{{ deal.title }} Ltd",
                                                                    "address": "2 High St"}},
        {"kind": "update_organization", "key": "rename",
         "settings": {"fields": {"name": "{{ organization.name }} (new)"}}},
    ])
    spam = automation("person.created", condition={"all": [
        {"field": "person.email", "op": "contains", "value": "spam"}]},
        actions=[{"kind": "delete_person", "key": "drop"}])
    with runtime.sessions() as s, s.begin():
        person = persons.create_person(s, {"name": "Dan"}, actor=Actor.user(admin.id))
        deal_id = create_deal(s, title="Globex", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                              person_id=person.id).id
        person_id = person.id
    spammer, _ = _person(runtime, admin, "Spammer", "spam@bad.example", None)
    run_all()
    runs = _runs(runtime, created)
    assert [r.status for r in runs] == ["done", "done"], [(r.status, r.error) for r in runs]
    with runtime.sessions() as s:
        deal, person = s.get(Deal, deal_id), s.get(Person, person_id)
        org = s.get(Organization, runs[0].outputs["organization_id"])
        assert (org.name, org.address) == ("Globex Ltd (new)", "2 High St")
        assert deal.organization_id == org.id and person.organization_id == org.id
        assert s.get(Person, spammer) is None
        assert s.scalars(select(DomainEvent).where(DomainEvent.type == "person.deleted")).one().actor_type == "robot"
    assert [r.status for r in _runs(runtime, spam)] == ["done"]


def test_executions_api_names_the_subject(admin_api, runtime, admin, automation, run_all):
    auto_id = automation("person.created")
    person_id, _ = _person(runtime, admin)
    run_all()
    body = admin_api.get(f"/api/v1/automations/{auto_id}/executions").json()
    [item] = body["items"]
    assert item["deal_id"] is None and item["subject"] == {"type": "person", "id": person_id}
    assert item["runs"][0]["status"] == "done" and item["runs"][0]["stage_id"] is None
