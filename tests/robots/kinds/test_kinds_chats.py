"""Chat kinds: group chats created by robots, members, messages, and private chats made on first use."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kanban.models import Chat, ChatMember, ChatMessage
from robots.errors import PermanentError


def _members(kit, chat_id):
    with kit.runtime.sessions() as s:
        return {m.user_id: m.sees_history for m in s.scalars(select(ChatMember).where(ChatMember.chat_id == chat_id))}


def test_group_chat_then_members_then_message_through_outputs(kit, people):
    out = kit.run("create_group_chat", {"name": "Deal {{ deal.title }}",
                                        "members": [{"type": "responsible"}, {"type": "supervisor"}]})
    chat_id = out["chat_id"]
    with kit.runtime.sessions() as s:
        chat = s.get(Chat, chat_id)
        assert (chat.name, chat.kind, chat.created_by_robot, chat.deal_id) == ("Deal Acme renewal", "group", True,
                                                                              kit.deal_id)
    assert set(_members(kit, chat_id)) == {people["rep"].id, people["boss"].id}
    chained = {"chat": {"chat_id": chat_id}}
    added = kit.run("add_chat_members", {"chat": "{{ robots.chat.chat_id }}", "show_history": False,
                                         "members": [{"type": "user", "id": people["other"].id},
                                                     {"type": "responsible"}]}, outputs_by_key=chained)
    assert added == {"added_user_ids": [people["other"].id]}
    assert _members(kit, chat_id)[people["other"].id] is False
    sent = kit.run("send_chat_message", {"chat": "{{ robots.chat.chat_id }}", "text": "Go {{ deal.amount }}",
                                         "message_type": "important"}, outputs_by_key=chained)
    with kit.runtime.sessions() as s:
        message = s.get(ChatMessage, sent["message_id"])
        assert (message.chat_id, message.text, message.message_type) == (chat_id, "Go 1250.00", "important")
        assert message.run_id == kit.last_run_id


def test_group_chat_needs_two_people(kit, people):
    with pytest.raises(PermanentError, match="at least 2 members"):
        kit.run("create_group_chat", {"name": "solo", "members": [{"type": "responsible"}]})


def test_only_robot_created_group_chats_accept_robot_members_and_messages(kit, people):
    with kit.runtime.sessions() as s, s.begin():
        human = Chat(name="people's chat", kind="group")
        s.add(human)
        s.flush()
        human_id = human.id
    with pytest.raises(PermanentError, match="not created by a robot"):
        kit.run("add_chat_members", {"chat": str(human_id), "members": [{"type": "responsible"}]})
    with pytest.raises(PermanentError, match="not created by a robot"):
        kit.run("send_chat_message", {"chat": str(human_id), "text": "x"})
    with pytest.raises(PermanentError, match="does not exist"):
        kit.run("send_chat_message", {"chat": "987654", "text": "x"})
    with pytest.raises(PermanentError, match="must be a chat id"):
        kit.run("send_chat_message", {"chat": "{{ deal.title }}", "text": "x"})


def test_chat_id_from_a_deal_field(kit, people):
    chat_id = kit.run("create_group_chat", {"name": "c", "members": [{"type": "role", "role": "admin"}]})["chat_id"]
    kit.run("modify_deal", {"fields": {"chat": str(chat_id)}})
    kit.run("add_chat_members", {"chat": "{{ deal.fields.chat }}", "members": [{"type": "responsible"}]})
    assert people["rep"].id in _members(kit, chat_id)


def test_private_message_creates_the_private_chat_once(kit, people):
    settings = {"to": [{"type": "user", "id": people["boss"].id}, {"type": "responsible"}],
                "text": "About {{ deal.title }}", "sender_id": people["admin"].id}
    first = kit.run("send_private_message", settings)
    second = kit.run("send_private_message", settings)
    assert len(first["message_ids"]) == 2 and first["message_id"] == first["message_ids"][0]
    with kit.runtime.sessions() as s:
        chats = list(s.scalars(select(Chat).where(Chat.kind == "private")))
        messages = list(s.scalars(select(ChatMessage).order_by(ChatMessage.id)))
    assert len(chats) == 2  # admin↔boss and admin↔rep, reused by the second run
    assert sorted(sorted(_members(kit, c.id)) for c in chats) == sorted(
        sorted([people["admin"].id, other]) for other in (people["boss"].id, people["rep"].id))
    assert [m.text for m in messages] == ["About Acme renewal"] * 4
    assert {m.chat_id for m in messages} == {c.id for c in chats}
    assert second["message_ids"] != first["message_ids"]


def test_private_message_to_oneself_only_fails(kit, people):
    with pytest.raises(PermanentError, match="only recipient is the sender"):
        kit.run("send_private_message", {"to": [{"type": "responsible"}], "text": "x"})
