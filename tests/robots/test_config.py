"""Robot configuration: settings, placeholders, output references, delays, conditions, order, cycles."""

from __future__ import annotations

from typing import Any

import pytest

from kanban.errors import ValidationError
from robots import config

NOTE = {"text": "Hello {{ deal.title }}", "recipients": [{"type": "responsible"}]}
CHAT = {"name": "Deal {{ deal.title }}", "members": [{"type": "role", "role": "admin"}, {"type": "responsible"}]}


def chat_message(ref: str = "{{ robots.chat.chat_id }}") -> dict[str, Any]:
    return {"chat": ref, "text": "Welcome to {{ deal.title }}", "message_type": "general"}


def save(runtime: Any, stage_id: int, **data: Any) -> config.SaveResult:
    with runtime.sessions() as s, s.begin():
        return config.create_robot(s, stage_id, data)


def refused(fn: Any, *args: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        fn(*args)
    return info.value.fields


def _refused_save(runtime: Any, stage_id: int, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        save(runtime, stage_id, **data)
    return info.value.fields


def test_defaults_key_name_and_position(runtime, pipeline):
    stage = pipeline.stages[0]
    first = save(runtime, stage.id, kind="notify", settings=NOTE).robot
    second = save(runtime, stage.id, kind="notify", settings=NOTE, name="Ping boss").robot
    assert (first.key, first.position, first.active, first.after_previous) == ("notify_1", 0, True, False)
    assert first.name and first.delay == {"type": "now"} and first.condition is None
    assert (second.key, second.position, second.name) == ("notify_2", 1, "Ping boss")


def test_unknown_kind_and_bad_settings(runtime, pipeline):
    stage = pipeline.stages[0]
    assert "kind" in _refused_save(runtime, stage.id, {"kind": "teleport"})
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": {"recipients": [], "bogus": 1}})
    assert fields["settings.text"] == "required"
    assert fields["settings.bogus"] == "unknown setting"
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": "nope"})
    assert "settings" in fields


def test_unknown_placeholder_is_refused_and_custom_fields_allowed(runtime, pipeline):
    stage = pipeline.stages[0]
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": {**NOTE, "text": "Hi {{ deal.nope }}"}})
    assert "deal.nope" in fields["settings.text"]
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": {**NOTE, "text": "{{ x.__class__ }}"}})
    assert "settings.text" in fields
    ok = save(runtime, stage.id, kind="notify", settings={**NOTE, "text": "{{ deal.fields.source }} {{ stage.name }}"})
    assert ok.robot.id


def test_output_references_follow_the_after_previous_chain(runtime, pipeline):
    stage = pipeline.stages[0]
    chat = save(runtime, stage.id, kind="create_group_chat", key="chat", settings=CHAT).robot
    # Not linked by after_previous: the chat may not exist yet when this robot runs.
    fields = _refused_save(runtime, stage.id, {"kind": "send_chat_message", "settings": chat_message()})
    assert "after previous" in fields["settings.chat"]
    fields = _refused_save(runtime, stage.id, {"kind": "send_chat_message", "after_previous": True,
                                               "settings": chat_message("{{ robots.chat.url }}")})
    assert "no output “url”" in fields["settings.chat"]
    fields = _refused_save(runtime, stage.id, {"kind": "send_chat_message", "after_previous": True,
                                               "settings": chat_message("{{ robots.later.chat_id }}")})
    assert "no robot “later”" in fields["settings.chat"]
    msg = save(runtime, stage.id, kind="send_chat_message", after_previous=True, settings=chat_message()).robot
    assert msg.position == chat.position + 1
    # A robot in between without after_previous breaks the chain.
    save(runtime, stage.id, kind="notify", settings=NOTE)
    fields = _refused_save(runtime, stage.id, {"kind": "send_chat_message", "after_previous": True,
                                               "settings": chat_message()})
    assert "after previous" in fields["settings.chat"]


def test_reorder_and_delete_refused_when_they_break_a_reference(runtime, pipeline):
    stage = pipeline.stages[1]
    chat = save(runtime, stage.id, kind="create_group_chat", key="chat", settings=CHAT).robot
    msg = save(runtime, stage.id, kind="send_chat_message", after_previous=True, settings=chat_message()).robot
    note = save(runtime, stage.id, kind="notify", settings=NOTE).robot
    with runtime.sessions() as s, s.begin():
        fields = refused(config.reorder_robots, s, stage.id, [msg.id, chat.id, note.id])
    assert "ids" in fields and "chat" in fields["ids"]
    with runtime.sessions() as s, s.begin():
        fields = refused(config.delete_robot, s, chat.id)
    assert "robots.send_chat_message_1" in fields
    with runtime.sessions() as s, s.begin():
        ordered = config.reorder_robots(s, stage.id, [note.id, chat.id, msg.id])
    assert [r.id for r in ordered] == [note.id, chat.id, msg.id]
    with runtime.sessions() as s, s.begin():
        assert "ids" in refused(config.reorder_robots, s, stage.id, [note.id, chat.id])
    with runtime.sessions() as s, s.begin():
        config.delete_robot(s, msg.id)
        config.delete_robot(s, chat.id)
    with runtime.sessions() as s:
        left = config.stage_robots(s, stage.id)
    assert [(r.id, r.position) for r in left] == [(note.id, 0)]


def test_update_validates_and_protects_robots_below(runtime, pipeline):
    stage = pipeline.stages[0]
    chat = save(runtime, stage.id, kind="create_group_chat", key="chat", settings=CHAT).robot
    msg = save(runtime, stage.id, kind="send_chat_message", after_previous=True, settings=chat_message()).robot
    with runtime.sessions() as s, s.begin():
        assert "kind" in refused(config.update_robot, s, msg.id, {"kind": "notify"})
    with runtime.sessions() as s, s.begin():
        # Renaming the key would leave the message robot pointing at nothing.
        fields = refused(config.update_robot, s, chat.id, {"key": "room"})
    assert "robots.send_chat_message_1" in fields
    with runtime.sessions() as s, s.begin():
        assert "after previous" in refused(config.update_robot, s, msg.id, {"after_previous": False})["settings.chat"]
    with runtime.sessions() as s, s.begin():
        result = config.update_robot(s, msg.id, {"active": False, "name": "Greeting"})
    assert (result.robot.active, result.robot.name, result.robot.after_previous) == (False, "Greeting", True)


@pytest.mark.parametrize(("delay", "field"), [
    ({"type": "later"}, "delay.type"),
    ({"type": "after", "seconds": -5}, "delay.seconds"),
    ({"type": "after", "seconds": "10"}, "delay.seconds"),
    ({"type": "after_field", "seconds": 60}, "delay.field"),
    ({"type": "at_time", "time": "25:00"}, "delay.time"),
    ({"type": "after", "seconds": 5, "when": 1}, "delay"),
])
def test_bad_delays(runtime, pipeline, delay, field):
    fields = _refused_save(runtime, pipeline.stages[0].id, {"kind": "notify", "settings": NOTE, "delay": delay})
    assert field in fields


def test_good_delays_and_conditions(runtime, pipeline):
    stage = pipeline.stages[0]
    for delay in ({"type": "after", "seconds": 3600}, {"type": "at_time", "time": "09:30"},
                  {"type": "before_field", "field": "deal.fields.due", "seconds": 86400}):
        assert save(runtime, stage.id, kind="notify", settings=NOTE, delay=delay).robot.delay == delay
    cond = {"all": [{"field": "deal.amount", "op": ">", "value": 1000}]}
    assert save(runtime, stage.id, kind="notify", settings=NOTE, condition=cond).robot.condition == cond


def test_bad_condition_and_key(runtime, pipeline):
    stage = pipeline.stages[0]
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": NOTE,
                                               "condition": {"all": [{"field": "deal.nope", "op": "=", "value": 1}]}})
    assert "condition.all.0.field" in fields
    fields = _refused_save(runtime, stage.id, {"kind": "notify", "settings": NOTE,
                                               "condition": {"all": [{"field": "robots.x.y", "op": "empty"}]}})
    assert "no robot “x”" in fields["condition.all.0.field"]
    assert "key" in _refused_save(runtime, stage.id, {"kind": "notify", "settings": NOTE, "key": "Bad Key"})
    save(runtime, stage.id, kind="notify", settings=NOTE, key="ping")
    assert "already" in _refused_save(runtime, stage.id, {"kind": "notify", "settings": NOTE, "key": "ping"})["key"]


def test_change_stage_target_and_cycle_warning(runtime, pipeline):
    new, qualified = pipeline.stages[0], pipeline.stages[1]
    assert "settings.stage_id" in _refused_save(runtime, new.id, {"kind": "change_stage",
                                                                  "settings": {"stage_id": new.id}})
    assert "settings.stage_id" in _refused_save(runtime, new.id, {"kind": "change_stage",
                                                                  "settings": {"stage_id": 999999}})
    first = save(runtime, qualified.id, kind="change_stage", settings={"stage_id": new.id})
    assert first.warnings == []
    conditional = save(runtime, new.id, kind="change_stage", settings={"stage_id": qualified.id},
                       condition={"all": [{"field": "deal.amount", "op": ">", "value": 5}]})
    assert conditional.warnings == []
    looping = save(runtime, new.id, kind="change_stage", settings={"stage_id": qualified.id})
    assert len(looping.warnings) == 1
    assert "New → Qualified" in looping.warnings[0] and "Qualified → New" in looping.warnings[0]
    delayed = save(runtime, new.id, kind="change_stage", settings={"stage_id": qualified.id},
                   delay={"type": "after", "seconds": 60})
    assert delayed.warnings == []


def test_cycle_through_a_trigger_warns(runtime, pipeline):
    from triggers.models import Trigger

    new, qualified, proposal = (s.id for s in pipeline.stages[:3])
    with runtime.sessions() as s, s.begin():
        # An unconditional trigger pulls deals from earlier stages into Proposal.
        s.add(Trigger(stage_id=proposal, kind="email_opened", name="Opened", settings={}))
        s.add(Trigger(stage_id=qualified, kind="email_opened", name="Guarded", settings={},
                      condition={"all": [{"field": "deal.amount", "op": ">", "value": 1}]}))
    assert save(runtime, qualified, kind="change_stage", settings={"stage_id": new}).warnings == []
    result = save(runtime, proposal, kind="change_stage", settings={"stage_id": new})
    assert len(result.warnings) == 1 and "trigger “Opened”" in result.warnings[0]


def test_deleting_a_pending_robot_releases_the_one_waiting_for_it(runtime, pipeline, test_kinds, new_deal, runs,
                                                                   run_all):
    stage = pipeline.stages[1].id
    first = save(runtime, stage, kind="test_echo", delay={"type": "after", "seconds": 3600}).robot
    save(runtime, stage, kind="test_echo", after_previous=True, settings={"text": "second"})
    deal = new_deal(stage)
    assert [r.status for r in runs(deal)] == ["scheduled", "waiting"]
    with runtime.sessions() as s, s.begin():
        config.delete_robot(s, first.id)
    run_all()
    assert [r.status for r in runs(deal)] == ["done"]
