"""Automation view and run log: generated forms, field errors, reorder, enable/disable, run-existing, retry."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import select

from robots import config
from robots.models import Robot, RobotRun
from tests.conftest import csrf_of, login
from tests.robots.conftest import FAILURES


def robots_of(runtime: Any, stage_id: int) -> list[Robot]:
    with runtime.sessions() as s:
        return list(s.scalars(select(Robot).where(Robot.stage_id == stage_id).order_by(Robot.position)))


def post_robot(client: Any, stage_id: int, kind: str, **fields: Any) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf_of(client, "/automation"), "kind": kind, "name": "", "key": "",
                            "active": "on", "delay_type": "now", "delay_amount": "0", "delay_unit": "seconds",
                            "cond_mode": "all", "cond_field": "", "cond_op": "=", "cond_value": ""}
    data.update(fields)
    return client.post(f"/automation/stages/{stage_id}/robots", data=data, follow_redirects=False)


def test_admins_only(client, runtime, admin, rep, pipeline):
    assert client.get("/automation", follow_redirects=False).status_code == 303
    login(client, rep.email)
    assert client.get("/automation").status_code == 403
    assert client.get(f"/automation/stages/{pipeline.stages[0].id}/robots/new").status_code == 403


def test_view_picker_and_generated_form(client, admin, rep, pipeline):
    login(client, admin.email)
    page = client.get(f"/automation?pipeline_id={pipeline.id}")
    assert page.status_code == 200
    assert all(f'id="stage-{s.id}"' in page.text for s in pipeline.stages)
    assert 'href="/automation"' in page.text  # nav link
    stage = pipeline.stages[0].id
    picker = client.get(f"/automation/stages/{stage}/robots/new")
    assert "Chats and feed" in picker.text and 'data-kind="create_group_chat"' in picker.text
    form = client.get(f"/automation/stages/{stage}/robots/new?kind=notify")
    assert '<textarea id="f-s-text" name="s.text"' in form.text
    assert 'value="responsible"' in form.text and f'value="user:{rep.id}"' in form.text
    assert 'value="role:admin"' in form.text and "deal.title" in form.text
    change = client.get(f"/automation/stages/{stage}/robots/new?kind=change_stage")
    assert f'<option value="{pipeline.stages[1].id}"' in change.text
    assert f'<option value="{stage}"' not in change.text  # not its own stage


def test_create_with_errors_then_success(client, runtime, admin, rep, pipeline):
    login(client, admin.email)
    stage = pipeline.stages[0].id
    bad = post_robot(client, stage, "notify", **{"s.text": "Hi {{ deal.nope }}", "s.recipients": "responsible"})
    assert bad.status_code == 422
    assert "unknown placeholder" in bad.text and "Hi {{ deal.nope }}" in bad.text  # typed text kept
    missing = post_robot(client, stage, "notify", **{"s.text": "Hi"})
    assert missing.status_code == 422 and "recipients" in missing.text
    assert robots_of(runtime, stage) == []
    ok = post_robot(client, stage, "notify", name="Tell the team", delay_type="after", delay_amount="2",
                    delay_unit="hours", cond_field="deal.amount", cond_op=">", cond_value="1000",
                    **{"s.text": "Hi {{ deal.title }}", "s.recipients": ["responsible", f"user:{rep.id}"]})
    assert ok.status_code == 303, ok.text
    (robot,) = robots_of(runtime, stage)
    assert robot.name == "Tell the team" and robot.delay == {"type": "after", "seconds": 7200}
    assert robot.condition == {"all": [{"field": "deal.amount", "op": ">", "value": "1000"}]}
    assert [r["type"] for r in robot.settings["recipients"]] == ["responsible", "user"]
    page = client.get(f"/automation?pipeline_id={pipeline.id}")
    assert "Robot saved." in page.text and "after 2 hours" in page.text and "if …" in page.text
    edit = client.get(f"/automation/robots/{robot.id}")
    assert 'value="2"' in edit.text and '<option value="hours" selected' in edit.text
    assert 'value="deal.amount"' in edit.text


def test_chain_help_edit_and_reference_errors(client, runtime, admin, rep, pipeline):
    login(client, admin.email)
    stage = pipeline.stages[1].id
    assert post_robot(client, stage, "create_group_chat", key="chat", **{
        "s.name": "Deal {{ deal.title }}", "s.members": ["role:admin", "role:rep"]}).status_code == 303
    form = client.get(f"/automation/stages/{stage}/robots/new?kind=send_chat_message")
    assert "robots.chat.chat_id" in form.text
    fields = {"s.chat": "{{ robots.chat.chat_id }}", "s.text": "Hello", "s.message_type": "important"}
    unchained = post_robot(client, stage, "send_chat_message", **fields)
    assert unchained.status_code == 422 and "after previous" in unchained.text
    assert post_robot(client, stage, "send_chat_message", after_previous="on", **fields).status_code == 303
    chat, msg = robots_of(runtime, stage)
    assert msg.after_previous and msg.settings["message_type"] == "important"
    # Editing the chat robot's key would break the message robot: refused with a message.
    edit = {"csrf_token": csrf_of(client, "/automation"), "name": chat.name, "key": "room", "active": "on",
            "delay_type": "now", "s.name": "x", "s.members": ["role:admin", "role:rep"]}
    refused = client.post(f"/automation/robots/{chat.id}", data=edit)
    assert refused.status_code == 422 and "robots.send_chat_message_1" in refused.text
    assert robots_of(runtime, stage)[0].key == "chat"


def test_card_buttons_and_drag_order(client, runtime, admin, pipeline):
    login(client, admin.email)
    stage = pipeline.stages[0].id
    for key in ("one", "two", "three"):
        post_robot(client, stage, "add_comment", key=key, **{"s.text": key})
    one, two, three = robots_of(runtime, stage)
    token = csrf_of(client, "/automation")
    assert client.post(f"/automation/robots/{three.id}/up", data={"csrf_token": token}).status_code == 200
    assert [r.key for r in robots_of(runtime, stage)] == ["one", "three", "two"]
    client.post(f"/automation/robots/{one.id}/toggle", data={"csrf_token": token})
    assert not robots_of(runtime, stage)[0].active
    assert "badge-inactive" in client.get("/automation").text
    ordered = client.post(f"/automation/stages/{stage}/order", data={"ids": [two.id, one.id, three.id]},
                          headers={"X-CSRF-Token": token})
    assert ordered.json() == {"ok": True, "ids": [two.id, one.id, three.id]}
    wrong = client.post(f"/automation/stages/{stage}/order", data={"ids": [two.id]}, headers={"X-CSRF-Token": token})
    assert wrong.status_code == 422 and not wrong.json()["ok"]
    assert client.post(f"/automation/stages/{stage}/order", data={"ids": [two.id]}).status_code == 403  # no CSRF
    client.post(f"/automation/robots/{two.id}/delete", data={"csrf_token": token})
    assert [r.key for r in robots_of(runtime, stage)] == ["one", "three"]


def test_cycle_warning_is_shown(client, runtime, admin, pipeline):
    login(client, admin.email)
    new, qualified = pipeline.stages[0].id, pipeline.stages[1].id
    post_robot(client, qualified, "change_stage", **{"s.stage_id": str(new)})
    assert "loop" not in client.get("/automation").text
    post_robot(client, new, "change_stage", **{"s.stage_id": str(qualified)})
    page = client.get(f"/automation?pipeline_id={pipeline.id}")
    assert "flash-warning" in page.text and "form a loop" in page.text
    assert page.text.count("badge-loop") == 2  # both robots of the loop stay marked
    assert client.get(f"/automation?pipeline_id={pipeline.id}").text.count("badge-loop") == 2


def test_run_existing_confirm_then_schedule(client, runtime, admin, pipeline, run_all):
    login(client, admin.email)
    stage = pipeline.stages[2].id
    token = csrf_of(client, "/automation")
    from kanban.events import Actor
    from kanban.services.deals import create_deal

    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Old", pipeline_id=pipeline.id, stage_id=stage, actor=Actor("system"))
    post_robot(client, stage, "add_comment", **{"s.text": "late hello"})
    (robot,) = robots_of(runtime, stage)
    confirm = client.get(f"/automation/robots/{robot.id}/run-existing")
    assert '<strong class="existing-count">1</strong>' in confirm.text
    done = client.post(f"/automation/robots/{robot.id}/run-existing", data={"csrf_token": token})
    assert "scheduled for 1 deals" in done.text
    run_all()
    with runtime.sessions() as s:
        assert [r.status for r in s.scalars(select(RobotRun).where(RobotRun.deal_id == deal.id))] == ["done"]


def test_run_log_panel_and_retry(client, runtime, admin, rep, pipeline, run_all, test_kinds):
    login(client, admin.email)
    stage = pipeline.stages[1].id
    post_robot(client, stage, "add_comment", name="Say hi", **{"s.text": "Hi {{ deal.title }}"})
    post_robot(client, stage, "test_echo", name="Flaky", **{"s.marker": "web"})
    FAILURES["web"] = ["permanent"]
    from kanban.events import Actor
    from kanban.services.deals import create_deal

    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Acme", pipeline_id=pipeline.id, stage_id=stage, actor=Actor("system"))
    run_all()
    page = client.get(f"/deals/{deal.id}")
    assert "Robot runs" in page.text and "Say hi" in page.text and 'data-status="done"' in page.text
    assert 'data-status="failed"' in page.text and "no email address" in page.text
    with runtime.sessions() as s:
        failed = s.scalars(select(RobotRun).where(RobotRun.status == "failed")).one()
    assert f'action="/automation/runs/{failed.id}/retry"' in page.text
    retried = client.post(f"/automation/runs/{failed.id}/retry", data={"csrf_token": csrf_of(client, "/automation")})
    assert "scheduled again" in retried.text
    run_all()
    assert 'data-status="failed"' not in client.get(f"/deals/{deal.id}").text
    client.post("/logout", data={"csrf_token": csrf_of(client, f"/deals/{deal.id}")})
    login(client, rep.email)
    assert "/retry" not in client.get(f"/deals/{deal.id}").text


class _FormReader(HTMLParser):
    """What a browser would submit for the robot form as shown (inputs, checked boxes, selected options)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.inside = False
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "robot-edit" in a.get("class", ""):
            self.inside = True
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea, self.text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea:
            self.fields.append((self.textarea, self.text))
            self.textarea = None
        elif tag == "select" and self.select:
            # Like a browser: the selected option, else the first one.
            chosen = [v for v, selected in self.options if selected] or [v for v, _ in self.options[:1]]
            self.fields.extend((self.select, v) for v in chosen)
            self.select = None
        elif tag == "form":
            self.inside = False


def examples(admin: Any, rep: Any, other_stage: int) -> dict[str, dict[str, Any]]:
    """Valid settings for every kind, using every input type of the generated forms."""
    people = [{"type": "user", "id": rep.id}, {"type": "role", "role": "admin"}]
    return {
        "add_chat_members": {"chat": "{{ deal.fields.chat }}", "members": people, "show_history": False},
        "add_comment": {"text": "Hi {{ deal.title }}", "author_id": admin.id},
        "add_post": {"title": "Won {{ deal.title }}", "text": "Well done", "recipients": [{"type": "everyone"}],
                     "author_id": rep.id, "tag": "wins"},
        "add_tag": {"tags": ["vip", "{{ stage.name }}"]},
        "change_responsible": {"users": [rep.id, admin.id], "mode": "round_robin"},
        "change_stage": {"stage_id": other_stage},
        "create_group_chat": {"name": "Deal {{ deal.title }}", "members": [{"type": "responsible"},
                                                                           {"type": "supervisor"}]},
        "create_payment_link": {"amount": 5000, "description": "Invoice for {{ deal.title }}"},
        "email_client": {"subject": "Offer {{ deal.title }}", "body": "<p>Hello {{ contact.name }}</p>",
                         "attachments": ["{{ deal.fields.document }}"]},
        "create_document": {"type": "quote", "responsible": admin.id},
        "get_requisites": {"entity": "person", "template": "person", "address_type": "delivery"},
        "modify_requisites": {"entity": "organization", "template": "it_company", "address_type": "legal",
                              "fields": {"partita_iva": "{{ deal.fields.piva }}", "city": "Milano"}},
        "sms_client": {"text": "Order {{ deal.title }} confirmed"},
        "email_employee": {"to": [{"type": "department", "id": 1}], "subject": "Deal", "body": "See {{ deal.url }}"},
        "modify_deal": {"fields": {"title": "{{ deal.title }} (won)", "chat": "{{ deal.id }}"}},
        "notify": {"text": "Call {{ contact.name }}", "recipients": people, "sender_id": admin.id},
        "notify_supervisor": {"text": "Look at {{ deal.title }}"},
        "send_chat_message": {"chat": "{{ deal.fields.chat }}", "text": "Hi", "message_type": "notification"},
        "send_private_message": {"to": people, "text": "Psst", "message_type": "important"},
        "sms_employee": {"to": [{"type": "responsible"}], "text": "New deal {{ deal.title }}"},
        "webhook": {"url": "https://hooks.example.com/deal", "allow_private": True},
        "create_activity": {"type": "meeting", "subject": "Meet {{ person.name }}",
                            "due": {"in_business_days": 2, "time": "09:30:00"}, "assignee": {"type": "responsible"},
                            "note": "About {{ organization.name }}"},
        "set_status": {"status": "lost", "reason": "No reply"},
        "update_person": {"fields": {"phone": "{{ deal.fields.phone }}"}},
        "update_activity": {"activity": "{{ next_activity.id }}", "fields": {"subject": "Again {{ deal.title }}"},
                            "mark": "done"},
        "delete_activity": {"activity": "{{ next_activity.id }}"},
        "delete_person": {},
        "delete_deal": {},
        "create_organization": {"name": "{{ contact.company }}", "address": "1 Main St", "link": False},
        "update_organization": {"fields": {"address": "{{ deal.fields.address }}"}},
    }


def test_every_kind_round_trips_through_its_generated_form(client, runtime, admin, rep, pipeline):
    from robots.registry import load_kinds

    login(client, admin.email)
    stage, other = pipeline.stages[3].id, pipeline.stages[4].id
    settings = examples(admin, rep, other)
    settings["create_deal"] = {"pipeline_id": pipeline.id, "title": "Follow-up {{ deal.title }}",
                               "fields": {"origin": "{{ deal.id }}"}}
    settings["create_activity"] = {"type": "call", "subject": "Call {{ person.name }}",
                                   "due": {"in_days": 2, "time": "09:30"}, "assignee": {"type": "responsible"}}
    settings["set_status"] = {"status": "lost", "reason": "No answer"}
    settings["update_person"] = {"fields": {"phone": "{{ deal.fields.phone }}"}}
    assert set(settings) >= set(load_kinds().keys()) - {"test_echo", "test_move"}
    for kind, wanted in settings.items():
        with runtime.sessions() as s, s.begin():
            robot = config.create_robot(s, stage, {"kind": kind, "settings": wanted}).robot
            stored = dict(robot.settings)
        page = client.get(f"/automation/robots/{robot.id}")
        assert page.status_code == 200, kind
        reader = _FormReader()
        reader.feed(page.text)
        saved = client.post(f"/automation/robots/{robot.id}", data=_multi(reader.fields), follow_redirects=False)
        assert saved.status_code == 303, (kind, saved.text[-2000:])
        with runtime.sessions() as s:
            assert _unordered(s.get(Robot, robot.id).settings) == _unordered(stored), kind


def _unordered(settings: dict[str, Any]) -> dict[str, Any]:
    # Recipient lists are sets: the form groups the choices, so their order may change.
    return {k: sorted(v, key=lambda ref: json.dumps(ref, sort_keys=True))
            if isinstance(v, list) and v and isinstance(v[0], dict) else v
            for k, v in settings.items()}


def _multi(fields: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def test_condition_aliases_and_nested_groups_survive_the_form(client, runtime, admin, pipeline):
    login(client, admin.email)
    stage = pipeline.stages[0].id
    flat = {"any": [{"field": "deal.amount", "op": ">=", "value": 10}, {"field": "deal.tags", "op": "empty"}]}
    nested = {"all": [{"field": "deal.amount", "op": ">", "value": 5},
                      {"any": [{"field": "deal.tags", "op": "contains", "value": "vip"},
                               {"field": "deal.currency", "op": "=", "value": "EUR"}]}]}
    ids = []
    for condition in (flat, nested):
        with runtime.sessions() as s, s.begin():
            ids.append(config.create_robot(s, stage, {"kind": "add_comment", "settings": {"text": "x"},
                                                      "condition": condition}).robot.id)
    for robot_id in ids:
        reader = _FormReader()
        reader.feed(client.get(f"/automation/robots/{robot_id}").text)
        assert client.post(f"/automation/robots/{robot_id}", data=_multi(reader.fields),
                           follow_redirects=False).status_code == 303
    with runtime.sessions() as s:
        saved_flat, saved_nested = (s.get(Robot, i).condition for i in ids)
    assert saved_flat == {"any": [{"field": "deal.amount", "op": "≥", "value": "10"},
                                  {"field": "deal.tags", "op": "empty"}]}
    assert saved_nested == nested
    page = client.get(f"/automation/robots/{ids[1]}")
    bad = {**_multi([(k, v) for k, v in _read(page.text) if k != "condition_json"]), "condition_json": "{oops"}
    refused = client.post(f"/automation/robots/{ids[1]}", data=bad)
    assert refused.status_code == 422 and "not valid JSON" in refused.text


def _read(html: str) -> list[tuple[str, str]]:
    reader = _FormReader()
    reader.feed(html)
    return reader.fields


def test_delay_badge_reads_naturally():
    from robots.forms import delay_label

    assert delay_label({"type": "after", "seconds": 86400}) == "after 1 day"
    assert delay_label({"type": "after", "seconds": 7200}) == "after 2 hours"
    assert delay_label({"type": "before_field", "seconds": 60, "field": "due"}) == "1 minute before due"
    assert delay_label({"type": "now"}) == ""
