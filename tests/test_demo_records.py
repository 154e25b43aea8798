"""The demo data is lived-in: persons, organizations, notes, past and overdue activities, won and lost deals."""

from __future__ import annotations

from sqlalchemy import func, select

from kanban import timezones
from kanban.crm_models import Activity, LostReason, Note
from kanban.demo import seed_demo
from kanban.models import Deal, Organization, Person


def test_demo_has_crm_records(runtime):
    with runtime.sessions() as s, s.begin():
        assert seed_demo(s)
    with runtime.sessions() as s:
        def count(stmt):
            return s.scalar(select(func.count()).select_from(stmt.subquery()))

        today = timezones.today()
        assert count(select(Person.id)) >= 15 and count(select(Organization.id).where(Organization.address.isnot(None)))
        assert count(select(Note.id)) > 0 and count(select(Note.id).where(Note.mentions != [])) > 0
        assert count(select(Activity.id).where(Activity.done.is_(True))) == 40
        assert count(select(Activity.id).where(Activity.done.is_(False), Activity.due_date < today)) > 0
        assert count(select(Activity.id).where(Activity.done.is_(False), Activity.due_date == today)) > 0
        assert count(select(Deal.id).where(Deal.status == "won")) > 0
        lost = list(s.scalars(select(Deal).where(Deal.status == "lost")))
        assert lost and all(d.lost_reason for d in lost)
        assert count(select(LostReason.id)) == 4
