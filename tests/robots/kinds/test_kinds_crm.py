"""CRM kinds: create_activity (relative due dates), set_status, update_person; templates read person/org/next."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from kanban import clock, timezones
from kanban.crm_models import Activity
from kanban.domain_events import DomainEvent
from kanban.models import Deal, Person, Pipeline
from robots.errors import PermanentError


def _activity(kit, activity_id):
    with kit.runtime.sessions() as s:
        return s.get(Activity, activity_id)


def test_create_activity_in_business_days_for_the_responsible(kit):
    out = kit.run("create_activity", {"type": "call", "subject": "Call {{ person.name }} at {{ organization.name }}",
                                      "due": {"in_business_days": 3, "time": "09:30"}, "note": "re {{ deal.title }}"})
    act = _activity(kit, out["activity_id"])
    today = timezones.today()
    assert act.subject == "Call Carla Client at" and act.note == "re Acme renewal"
    assert (act.assignee_id, act.deal_id, act.run_id) == (kit.rep.id, kit.deal_id, kit.last_run_id)
    assert act.due_date == timezones.add_business_days(today, 3) and act.due_time == time(9, 30)
    assert act.due_date.weekday() < 5
    with kit.runtime.sessions() as s:
        event = s.scalars(select(DomainEvent).where(DomainEvent.type == "activity.created")).one()
    assert event.actor_type == "robot" and event.cause[-1]["run_id"] == kit.last_run_id


def test_create_activity_due_rules(kit):
    today = timezones.today()
    days = kit.run("create_activity", {"subject": "x", "due": {"in_days": 2}, "assignee": {"type": "user",
                                                                                             "id": kit.admin.id}})
    assert _activity(kit, days["activity_id"]).due_date == today + timedelta(days=2)
    assert _activity(kit, days["activity_id"]).assignee_id == kit.admin.id
    friday = kit.run("create_activity", {"subject": "x", "due": {"weekday": "friday"}})
    due = _activity(kit, friday["activity_id"]).due_date
    assert due.weekday() == 4 and today < due <= today + timedelta(days=7)
    with pytest.raises(ValueError):
        kit.run("create_activity", {"subject": "x", "due": {"in_days": 1, "weekday": "monday"}})


def test_time_helpers():
    monday = date(2026, 11, 30)
    assert timezones.next_weekday(monday, 0) == date(2026, 12, 7)
    assert timezones.next_weekday(monday, 2) == date(2026, 12, 2)
    assert timezones.add_business_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday → Monday


def test_templates_read_the_next_activity(kit):
    first = kit.run("create_activity", {"subject": "Demo", "due": {"in_days": 1}})
    out = kit.run("create_activity", {"subject": "After {{ next_activity.subject }} ({{ next_activity.state }})",
                                      "due": {"in_days": 5}})
    assert _activity(kit, out["activity_id"]).subject == "After Demo (upcoming)"
    assert first["activity_id"] != out["activity_id"]


def test_set_status_and_the_required_reason(kit, runtime):
    assert kit.run("set_status", {"status": "won"}) == {"status": "won"}
    with runtime.sessions() as s, s.begin():
        s.get(Pipeline, kit.pipeline.id).lost_reason_required = True
    with pytest.raises(PermanentError, match="reason"):
        kit.run("set_status", {"status": "lost"})
    assert kit.run("set_status", {"status": "lost", "reason": "Budget of {{ deal.title }}"}) == {"status": "lost"}
    with runtime.sessions() as s:
        deal = s.get(Deal, kit.deal_id)
        assert (deal.status, deal.lost_reason, deal.closed_at is not None) == ("lost", "Budget of Acme renewal", True)


def test_update_person(kit, runtime):
    out = kit.run("update_person", {"fields": {"phone": "+33 {{ deal.fields.source }}", "name": "Carla C."}})
    with runtime.sessions() as s:
        person = s.get(Person, out["person_id"])
        assert (person.name, person.phone) == ("Carla C.", "+33 web")
        assert s.scalars(select(DomainEvent).where(DomainEvent.type == "person.updated")).one().actor_type == "robot"
    bare = kit.new_deal("No person")
    with pytest.raises(PermanentError, match="no person"):
        kit.run("update_person", {"fields": {"name": "x"}}, deal_id=bare)
    with runtime.sessions() as s, s.begin():
        s.add(Person(name="Taken", email="taken@x.test", email_key="taken@x.test", created_at=clock.now()))
    with pytest.raises(PermanentError, match="exists"):
        kit.run("update_person", {"fields": {"email": "TAKEN@x.test"}})
