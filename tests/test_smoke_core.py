"""First checks of the move service and login, on both databases."""

from __future__ import annotations

import pytest

from kanban.errors import ConflictError
from kanban.events import Actor, DealMoved, bus
from kanban.models import StageEntry, TimelineEntry
from kanban.services.deals import create_deal, move_deal
from tests.conftest import login


def test_move_writes_entry_timeline_and_event(runtime, pipeline, admin):
    seen = []
    bus.subscribe(DealMoved, lambda s, e: seen.append(e))
    stages = pipeline.stages
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor.user(admin.id), tags=["vip"])
    assert deal.version == 1  # creating is one version, whatever the service writes to link the first entry
    with runtime.sessions() as s, s.begin():
        result = move_deal(s, deal.id, stages[2].id, actor=Actor.user(admin.id), expected_version=deal.version)
        assert result.moved
    with runtime.sessions() as s:
        entries = s.query(StageEntry).filter_by(deal_id=deal.id).order_by(StageEntry.id).all()
        assert [e.stage_id for e in entries] == [stages[0].id, stages[2].id]
        assert entries[0].left_at is not None
        kinds = [t.kind for t in s.query(TimelineEntry).filter_by(deal_id=deal.id).order_by(TimelineEntry.id)]
        assert kinds == ["created", "stage_changed"]
    assert [(e.from_stage_id, e.to_stage_id) for e in seen] == [(None, stages[0].id), (stages[0].id, stages[2].id)]
    with runtime.sessions() as s, s.begin(), pytest.raises(ConflictError):
        move_deal(s, deal.id, stages[3].id, actor=Actor.user(admin.id), expected_version=deal.version)


def test_login_and_logout(client, admin):
    assert client.get("/login").status_code == 200
    login(client, admin.email)
    bad = client.post("/login", data={"email": admin.email, "password": "nope"})
    assert bad.status_code == 403  # no CSRF token: refused before the password is even checked
