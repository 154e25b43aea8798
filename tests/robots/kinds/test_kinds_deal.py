"""Deal kinds: modify_deal, change_stage (with the loop guard), change_responsible, add_tag."""

from __future__ import annotations

import pytest

from kanban.events import DealFieldsChanged, DealMoved, bus
from kanban.models import Deal, StageEntry
from robots.errors import LoopBlockedError, PermanentError
from robots.registry import load_kinds


def _deal(kit):
    with kit.runtime.sessions() as s:
        return s.get(Deal, kit.deal_id)


@pytest.fixture
def events():
    seen = []
    bus.subscribe(DealFieldsChanged, lambda s, e: seen.append(e))
    bus.subscribe(DealMoved, lambda s, e: seen.append(e))
    return seen


def test_modify_deal_sets_title_amount_and_custom_fields_as_the_robot(kit, events):
    fields = {"title": "{{ deal.title }} (renewed)", "amount": "{{ deal.amount_minor }}0",
              "chat": "{{ robots.chat.chat_id }}"}
    out = kit.run("modify_deal", {"fields": fields}, outputs_by_key={"chat": {"chat_id": 77}})
    deal = _deal(kit)
    assert (deal.title, deal.amount) == ("Acme renewal (renewed)", 1250000)
    assert deal.fields == {"source": "web", "chat": "77"}
    assert out == {"changed": ["amount", "chat", "title"]}
    [event] = [e for e in events if isinstance(e, DealFieldsChanged)]
    assert event.actor.type == "robot" and set(event.changes) == {"title", "amount", "fields.chat"}
    assert event.cause[-1]["run_id"] == kit.last_run_id


def test_modify_deal_refuses_a_non_integer_amount_and_bad_names(kit):
    with pytest.raises(PermanentError, match="whole minor units"):
        kit.run("modify_deal", {"fields": {"amount": "{{ deal.amount }}"}})  # "1250.00" is not minor units
    with pytest.raises(PermanentError, match="title is required"):
        kit.run("modify_deal", {"fields": {"title": "  "}})
    with pytest.raises(ValueError):
        load_kinds().get("modify_deal").Settings.model_validate({"fields": {"bad name": "x"}})
    assert _deal(kit).title == "Acme renewal"


def test_change_stage_moves_the_deal_with_a_cause_chain(kit, events):
    target = kit.pipeline.stages[2]
    assert kit.run("change_stage", {"stage_id": target.id}) == {"moved": True}
    deal = _deal(kit)
    assert deal.stage_id == target.id
    with kit.runtime.sessions() as s:
        entry = s.get(StageEntry, deal.current_entry_id)
    assert entry.actor_type == "robot" and entry.cause[-1]["run_id"] == kit.last_run_id
    assert any(isinstance(e, DealMoved) and e.to_stage_id == target.id for e in events)


def test_change_stage_to_another_pipeline_fails_permanently(kit, runtime):
    from kanban.services.pipelines import create_pipeline

    with runtime.sessions() as s, s.begin():
        other = create_pipeline(s, "Other", [{"name": "Elsewhere"}]).stages[0].id
    with pytest.raises(PermanentError, match="not a stage of this deal's pipeline"):
        kit.run("change_stage", {"stage_id": other})


def test_change_stage_refused_by_the_loop_guard_raises_loop_blocked(kit):
    deep = tuple({"type": "robot", "id": i, "run_id": i} for i in range(9))
    with pytest.raises(LoopBlockedError) as caught:
        kit.run("change_stage", {"stage_id": kit.pipeline.stages[1].id}, cause=deep)
    assert "deep" in caught.value.reason
    assert _deal(kit).stage_id == kit.pipeline.stages[0].id


def test_change_responsible_first_skips_inactive_users(kit, people):
    out = kit.run("change_responsible", {"users": [people["gone"].id, 999999, people["other"].id], "mode": "first"})
    assert out == {"user_id": people["other"].id} and _deal(kit).responsible_id == people["other"].id


def test_change_responsible_round_robin_rotates_from_the_database(kit, people):
    users = [people["admin"].id, people["gone"].id, people["other"].id, people["boss"].id]
    robot_id = kit.robot("change_responsible", {"users": users, "mode": "round_robin"})
    picked = [kit.run("change_responsible", {"users": users, "mode": "round_robin"}, robot_id=robot_id,
                      deal_id=kit.new_deal(f"Deal {n}"))["user_id"] for n in range(4)]
    # Gina is inactive: skipped. The rotation state is the robot's last finished run, not process memory.
    assert picked == [people["admin"].id, people["other"].id, people["boss"].id, people["admin"].id]


def test_change_responsible_random_stays_in_the_list(kit, people):
    users = [people["admin"].id, people["other"].id]
    picks = {kit.run("change_responsible", {"users": users, "mode": "random"})["user_id"] for _ in range(8)}
    assert picks <= set(users) and picks


def test_change_responsible_with_no_active_user_fails(kit, people):
    with pytest.raises(PermanentError, match="none of the configured users"):
        kit.run("change_responsible", {"users": [people["gone"].id], "mode": "round_robin"})


def test_add_tag_merges_rendered_tags(kit, events):
    out = kit.run("add_tag", {"tags": ["hot", "vip", "from-{{ deal.fields.source }}"]})
    assert out == {"tags": ["vip", "hot", "from-web"]} and _deal(kit).tags == ["vip", "hot", "from-web"]
    assert kit.run("add_tag", {"tags": ["hot"]}) == {"tags": ["vip", "hot", "from-web"]}
    assert len([e for e in events if isinstance(e, DealFieldsChanged)]) == 1  # the no-op changed nothing


def test_round_robin_is_right_when_runs_of_one_robot_overlap(kit, people):
    import threading

    users = [people["admin"].id, people["other"].id, people["boss"].id]
    settings = {"users": users, "mode": "round_robin"}
    robot_id = kit.robot("change_responsible", settings)
    deals = [kit.new_deal(f"Deal {n}") for n in range(3)]
    assert kit.run("change_responsible", settings, robot_id=robot_id, deal_id=deals[0])["user_id"] == users[0]
    picked_first, release = threading.Event(), threading.Event()
    results = {}

    def slow():
        results["slow"] = kit.run("change_responsible", settings, robot_id=robot_id, deal_id=deals[1],
                                  before_commit=lambda: (picked_first.set(), release.wait(10)))["user_id"]

    def fast():
        results["fast"] = kit.run("change_responsible", settings, robot_id=robot_id, deal_id=deals[2])["user_id"]

    first = threading.Thread(target=slow)
    first.start()
    assert picked_first.wait(10)
    second = threading.Thread(target=fast)
    second.start()
    second.join(0.5)  # it must wait for the first run's transaction, not read a stale "last assignment"
    release.set()
    first.join(30)
    second.join(30)
    assert (results["slow"], results["fast"]) == (users[1], users[2])


def test_create_deal_opens_a_follow_up_deal_in_another_pipeline(kit, runtime):
    from kanban.services.pipelines import create_pipeline

    with runtime.sessions() as s, s.begin():
        onboarding = create_pipeline(s, "Onboarding", [{"name": "Kickoff"}, {"name": "Live"}])
        target = (onboarding.id, onboarding.stages[1].id)
    out = kit.run("create_deal", {"pipeline_id": target[0], "stage_id": target[1],
                                  "title": "Onboard {{ deal.title }}", "fields": {"origin": "{{ deal.id }}"}})
    with runtime.sessions() as s:
        new = s.get(Deal, out["deal_id"])
        entry = s.get(StageEntry, new.current_entry_id)
    assert (new.title, new.pipeline_id, new.stage_id) == ("Onboard Acme renewal", *target)
    assert new.fields == {"origin": str(kit.deal_id)} and new.responsible_id == kit.rep.id
    assert entry.actor_type == "robot"


def test_create_deal_with_a_stage_of_another_pipeline_fails_permanently(kit):
    with pytest.raises(PermanentError, match="stage"):
        kit.run("create_deal", {"pipeline_id": kit.pipeline.id, "stage_id": 99999, "title": "x"})
