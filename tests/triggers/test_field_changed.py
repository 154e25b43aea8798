"""field_changed: a deal field changes (optionally to a value) via the API, the UI service or a robot."""

from __future__ import annotations

from kanban.events import Actor
from kanban.services.deals import update_deal
from tests.triggers.conftest import (
    add_comment_robot,
    add_trigger,
    make_deal,
    robots_done,
    stage_of,
    timeline_texts,
    wait_for,
)


def test_api_patch_fires_and_target_robots_run(admin_api, runtime, pipeline, stages):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Qualified"], "field_changed", settings={"field": "fields.source", "value": "web"})
    robot = add_comment_robot(admin_api, stages["Qualified"])
    response = admin_api.patch(f"/api/v1/deals/{deal}", json={"fields": {"source": "phone"}})
    assert response.status_code == 200
    assert stage_of(runtime, deal) == stages["New"]
    admin_api.patch(f"/api/v1/deals/{deal}", json={"fields": {"source": "web"}})
    assert stage_of(runtime, deal) == stages["Qualified"]
    wait_for(lambda: robots_done(runtime, deal, robot), what="the Qualified stage's robot")


def test_any_change_of_a_core_field_with_condition(runtime, pipeline, stages, admin):
    deal = make_deal(runtime, pipeline, stages["New"], amount=100)
    add_trigger(runtime, stages["Proposal"], "field_changed", settings={"field": "amount"},
                condition={"all": [{"field": "deal.amount", "op": "≥", "value": 1000}]})
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, {"amount": 500}, actor=Actor.user(admin.id))
    assert stage_of(runtime, deal) == stages["New"]
    assert any("condition not met" in t for t in timeline_texts(runtime, deal))
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, {"amount": 5000}, actor=Actor("robot", 1), cause=({"type": "robot", "id": 1},))
    assert stage_of(runtime, deal) == stages["Proposal"]


def test_unwatched_fields_leave_no_noise(runtime, pipeline, stages, admin):
    deal = make_deal(runtime, pipeline, stages["New"])
    add_trigger(runtime, stages["Proposal"], "field_changed", settings={"field": "title"})
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, {"amount": 7}, actor=Actor.user(admin.id))
    assert timeline_texts(runtime, deal) == [] and stage_of(runtime, deal) == stages["New"]


def test_field_changed_settings_are_validated(admin_api, stages):
    for settings in ({}, {"field": "nope"}, {"field": "amount", "extra": 1}):
        response = admin_api.post(f"/api/v1/stages/{stages['Won']}/triggers",
                                  json={"kind": "field_changed", "settings": settings})
        assert response.status_code == 422, settings
        assert any(k.startswith("settings") for k in response.json()["error"]["fields"])
