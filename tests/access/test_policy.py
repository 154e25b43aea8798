"""kanban.policy in the services: people are checked, robots and triggers are not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban import policy
from kanban.errors import NotFoundError, PermissionDeniedError
from kanban.events import Actor
from kanban.models import Deal
from kanban.services.deals import create_deal, delete_deal, move_deal, reorder_deal, update_deal
from tests.access.conftest import set_scopes


def test_services_check_user_actors_only(runtime, team):
    rep, mate_deal = Actor.user(team.users["rep"].id), team.deals["mate"]
    target = team.pipeline.stages[1].id
    with runtime.sessions() as s, s.begin():
        for attempt in (lambda: update_deal(s, mate_deal, {"title": "x"}, actor=rep),
                        lambda: move_deal(s, mate_deal, target, actor=rep),
                        lambda: reorder_deal(s, mate_deal, before_id=None, after_id=None, actor=rep),
                        lambda: delete_deal(s, mate_deal, actor=rep)):
            with pytest.raises(PermissionDeniedError):
                attempt()
        assert move_deal(s, mate_deal, target, actor=Actor("robot", 1)).moved
        update_deal(s, mate_deal, {"title": "By a trigger"}, actor=Actor("trigger", 1))


def test_unreadable_deals_are_missing_to_services(runtime, team):
    set_scopes(runtime, "rep", read="own", edit="all")
    rep = Actor.user(team.users["rep"].id)
    with runtime.sessions() as s, s.begin(), pytest.raises(NotFoundError):
        update_deal(s, team.deals["mate"], {"title": "x"}, actor=rep)


def test_people_become_responsible_for_the_deals_they_create(runtime, team):
    with runtime.sessions() as s, s.begin():
        mine = create_deal(s, title="Mine", pipeline_id=team.pipeline.id, actor=Actor.user(team.users["rep"].id))
        robots = create_deal(s, title="Robot's", pipeline_id=team.pipeline.id, actor=Actor("robot", 1))
        assert (mine.responsible_id, robots.responsible_id) == (team.users["rep"].id, None)


def test_scope_clause_and_can_agree(runtime, team):
    """The query filter (lists, counts) and the per-deal check (one deal) never disagree."""
    for scope in policy.SCOPES:
        set_scopes(runtime, "supervisor", edit=scope)
        with runtime.sessions() as s:
            sup = team.users["supervisor"]
            listed = set(s.scalars(select(Deal.id).where(policy.scope_clause(s, sup, "edit"))))
            checked = {d.id for d in s.scalars(select(Deal)) if policy.can(s, sup, "edit", d)}
            assert listed == checked, scope
