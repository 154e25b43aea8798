"""notify and notify_supervisor: notification rows for the right people, once per run."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kanban.models import Notification
from robots.errors import PermanentError
from robots.registry import load_kinds


def _notes(kit):
    with kit.runtime.sessions() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def test_notify_resolves_roles_departments_and_responsible(kit, people):
    outputs = kit.run("notify", {"text": "New deal {{ deal.title }} ({{ deal.amount }} {{ deal.currency }})",
                                 "recipients": [{"type": "role", "role": "admin"}, {"type": "responsible"},
                                                {"type": "department", "id": _dept_of(kit, people["rep"])}],
                                 "sender_id": people["boss"].id})
    notes = _notes(kit)
    # admins (Ada, Bea) + responsible (Rex) + Sales dept (Ada, Rex, Bea; Gina is inactive) → each once
    assert sorted(n.user_id for n in notes) == sorted([people["admin"].id, people["boss"].id, people["rep"].id])
    assert {n.text for n in notes} == {"New deal Acme renewal (1250.00 USD)"}
    assert {n.sender_id for n in notes} == {people["boss"].id}
    assert {n.run_id for n in notes} == {kit.last_run_id}
    assert {n.deal_id for n in notes} == {kit.deal_id}
    assert sorted(outputs["notification_ids"]) == sorted(n.id for n in notes)


def _dept_of(kit, user):
    from kanban.models import User

    with kit.runtime.sessions() as s:
        return s.get(User, user.id).department_id


def test_notify_without_any_active_recipient_fails_permanently(kit, people):
    with pytest.raises(PermanentError, match="no active user"):
        kit.run("notify", {"text": "hi", "recipients": [{"type": "user", "id": people["gone"].id}]})
    assert _notes(kit) == []


def test_notify_settings_are_checked():
    cls = load_kinds().get("notify")
    with pytest.raises(ValueError):
        cls.Settings.model_validate({"text": "x", "recipients": []})
    with pytest.raises(ValueError):
        cls.Settings.model_validate({"text": "x", "recipients": [{"type": "user"}]})
    with pytest.raises(ValueError):
        cls.Settings.model_validate({"text": "x", "recipients": [{"type": "responsible"}], "extra": 1})


def test_notification_is_unique_per_run_and_user(kit, people):
    kit.run("notify", {"text": "hi", "recipients": [{"type": "responsible"}]})
    with kit.runtime.sessions() as s, pytest.raises(IntegrityError), s.begin():
        s.add(Notification(user_id=people["rep"].id, run_id=kit.last_run_id, text="again"))


def test_notify_supervisor_notifies_the_department_head(kit, people):
    outputs = kit.run("notify_supervisor", {"text": "Check {{ deal.title }}, {{ responsible.name }} has it"})
    [note] = _notes(kit)
    assert note.user_id == people["boss"].id
    assert note.text == "Check Acme renewal, Rex Rep has it"
    assert outputs == {"notification_id": note.id}


def test_notify_supervisor_without_head_fails_permanently(kit):
    # The Sales department exists but nobody heads it in this test.
    with pytest.raises(PermanentError, match="no \\(active\\) head"):
        kit.run("notify_supervisor", {"text": "x"})
