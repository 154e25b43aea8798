"""The automation view says what each robot does; the add-robot catalogue is a searchable, described grid."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kanban import clock
from kanban.events import Actor
from kanban.services.deals import create_deal
from robots import config
from robots.describe import condition_words, describe
from robots.models import RobotRun
from robots.registry import load_kinds
from tests.conftest import login


def test_condition_words_read_like_a_sentence():
    assert condition_words(None) == ""
    assert condition_words({"all": [{"field": "deal.amount", "op": ">", "value": 3000}]}) == "if amount > 3,000"
    words = condition_words({"any": [{"field": "deal.currency", "op": "=", "value": "EUR"},
                                     {"field": "deal.fields.source", "op": "not_empty"},
                                     {"field": "deal.tags", "op": "in", "value": ["vip", "eu"]}]})
    assert words == "if currency = “EUR” or source is set or tags is one of “vip”, “eu”"
    assert condition_words({"all": [{"field": "deal.amount", "op": ">=", "value": 10}]}) == "if amount ≥ 10"


def test_cards_say_recipients_text_when_condition_outputs_last_run_and_failures(client, runtime, admin, pipeline):
    new, won = pipeline.stages[0].id, pipeline.stages[4].id
    with runtime.sessions() as s, s.begin():
        chat = config.create_robot(s, new, {"kind": "create_group_chat", "key": "room", "settings": {
            "name": "Deal {{ deal.title }}", "members": [{"type": "user", "id": admin.id}, {"type": "responsible"}]}})
        ping = config.create_robot(s, new, {
            "kind": "send_chat_message", "key": "hello", "after_previous": True,
            "settings": {"chat": "{{ robots.room.chat_id }}", "text": "Welcome " + "x" * 200},
            "condition": {"all": [{"field": "deal.amount", "op": ">", "value": 3000}]},
            "delay": {"type": "after", "seconds": 7200}}).robot
        move = config.create_robot(s, new, {"kind": "change_stage", "key": "win", "settings": {"stage_id": won}})
        deal = create_deal(s, title="Acme", pipeline_id=pipeline.id, actor=Actor.user(admin.id),
                           responsible_id=admin.id, amount=5000)
        s.flush()
        run = s.scalars(select(RobotRun).where(RobotRun.robot_id == ping.id, RobotRun.deal_id == deal.id)).one()
        run.status, run.error, run.finished_at = "failed", "no such chat", clock.now() - timedelta(minutes=5)
        robots = [chat.robot, ping, move.robot]
        what = describe(s, robots, dict(load_kinds().items()))
    room, hello, win = (what[r.id] for r in robots)
    assert room.recipients == "Ada Admin, the responsible" and room.excerpt == "Deal {{ deal.title }}"
    assert (hello.delay, hello.condition, hello.outputs_used) == ("after 2 hours", "if amount > 3,000",
                                                                  ["room.chat_id"])
    assert hello.excerpt.startswith("Welcome xxx") and hello.excerpt.endswith("…") and len(hello.excerpt) == 90
    assert (hello.last_status, hello.failures) == ("failed", 1) and hello.last_run is not None
    assert (win.target, win.delay, win.last_run) == ("Won", "immediately", None)
    login(client, admin.email)
    page = client.get(f"/automation?pipeline_id={pipeline.id}").text
    assert "if amount &gt; 3,000" in page and "1 failure" in page and "room.chat_id" in page
    assert "Ada Admin, the responsible" in page and "Moves to" in page


def test_picker_is_a_searchable_grid_with_descriptions(client, admin, pipeline):
    login(client, admin.email)
    picker = client.get(f"/automation/stages/{pipeline.stages[0].id}/robots/new").text
    assert "data-kind-search" in picker and picker.count("data-kind-card") == len(list(load_kinds().items()))
    assert "<code>title</code>" in picker  # modify_deal's docstring: backticks shown as code, not literally
    descriptions = picker.split('class="kind-desc">')[1:]
    assert descriptions and not any("`" in d.split("</span>")[0] for d in descriptions)
