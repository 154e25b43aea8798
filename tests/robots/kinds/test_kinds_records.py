"""add_comment and add_post: a timeline comment and a feed post, each once per run."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kanban.events import Actor
from kanban.models import FeedPost, TimelineEntry
from kanban.services.deals import update_deal
from robots.errors import PermanentError


def test_add_comment_defaults_to_the_responsible_as_author(kit, people):
    outputs = kit.run("add_comment", {"text": "Called {{ contact.name }} about {{ deal.title }}"})
    with kit.runtime.sessions() as s:
        entry = s.get(TimelineEntry, outputs["comment_id"])
        assert entry.kind == "comment" and entry.deal_id == kit.deal_id
        assert entry.text == "Called Carla Client about Acme renewal"
        assert (entry.actor_type, entry.actor_id) == ("user", people["rep"].id)
        assert entry.run_id == kit.last_run_id
        assert entry.data["robot_key"]


def test_add_comment_with_chosen_author_and_once_per_run(kit, people):
    kit.run("add_comment", {"text": "note", "author_id": people["boss"].id})
    with kit.runtime.sessions() as s:
        entry = s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "comment")).one()
        assert entry.actor_id == people["boss"].id
    with kit.runtime.sessions() as s, pytest.raises(IntegrityError), s.begin():
        s.add(TimelineEntry(deal_id=kit.deal_id, kind="comment", text="dup", run_id=kit.last_run_id))


def test_add_comment_unknown_author_fails_permanently(kit):
    with pytest.raises(PermanentError, match="user 999999 does not exist"):
        kit.run("add_comment", {"text": "x", "author_id": 999999})


def test_add_post_to_everyone_by_default(kit, people):
    outputs = kit.run("add_post", {"title": "Won soon: {{ deal.title }}", "text": "Amount {{ deal.amount }}",
                                   "tag": "sales"})
    with kit.runtime.sessions() as s:
        post = s.get(FeedPost, outputs["post_id"])
        assert (post.title, post.text, post.tag) == ("Won soon: Acme renewal", "Amount 1250.00", "sales")
        assert post.recipients == ["everyone"]
        assert post.author_id == people["rep"].id and post.run_id == kit.last_run_id


def test_add_post_to_users_with_attachments_from_a_deal_field(kit, people):
    with kit.runtime.sessions() as s, s.begin():
        update_deal(s, kit.deal_id, {"fields": {"files": ["https://files.example/a.pdf", "https://x/b.png"]}},
                    actor=Actor.user(people["admin"].id))
    outputs = kit.run("add_post", {"title": "t", "text": "x", "author_id": people["admin"].id,
                                   "recipients": [{"type": "user", "id": people["other"].id},
                                                  {"type": "role", "role": "admin"}],
                                   "attachments_field": "files"})
    with kit.runtime.sessions() as s:
        post = s.get(FeedPost, outputs["post_id"])
        assert sorted(post.recipients) == sorted([people["other"].id, people["admin"].id, people["boss"].id])
        assert post.attachments == ["https://files.example/a.pdf", "https://x/b.png"]
