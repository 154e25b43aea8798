"""notify and notify_supervisor honour each recipient's channels: in-app, email, digest, push — once per run."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kanban import push
from kanban.channels import DigestItem, PushMessage
from kanban.models import EmailMessage, Notification
from kanban.notifications import save_settings
from tests.fake_push import PushEndpoint


def _all(kit, model):
    with kit.runtime.sessions() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def _choose(kit, user, channels):
    with kit.runtime.sessions() as s, s.begin():
        save_settings(s, user.id, {"channels": channels})


def test_notify_sends_email_and_push_instead_of_the_bell_when_chosen(kit, people):
    rep = people["rep"]
    _choose(kit, rep, {"default": ["in_app"], "robot": ["email", "push"]})
    endpoint = PushEndpoint(kit.runtime.extras["services"]["vapid"].public_key)
    with kit.runtime.sessions() as s, s.begin():
        push.subscribe(s, kit.runtime.settings, rep.id, endpoint.subscription("https://push.example/rep"))
    out = kit.run("notify", {"text": "Call {{ contact.name }}", "sender_id": people["boss"].id,
                             "recipients": [{"type": "responsible"}, {"type": "user", "id": people["admin"].id}]})
    [note] = _all(kit, Notification)  # only the admin (default: in-app) gets the bell
    assert note.user_id == people["admin"].id and out == {"notification_ids": [note.id]}
    [mail] = _all(kit, EmailMessage)
    assert (mail.to_address, mail.kind, mail.run_id, mail.user_id) == ("rep@example.com", "notification",
                                                                       kit.last_run_id, rep.id)
    assert mail.subject == "Notification: Call Carla Client" and mail.from_address.startswith("Bea Boss <")
    [pushed] = _all(kit, PushMessage)
    assert (pushed.user_id, pushed.run_id, pushed.status) == (rep.id, kit.last_run_id, "queued")
    assert pushed.payload == {"title": "CRM", "body": "Call Carla Client",
                              "url": f"http://testserver/deals/{kit.deal_id}"}


def test_a_run_emails_each_user_at_most_once(kit, people):
    _choose(kit, people["rep"], {"default": ["email"]})
    kit.run("notify", {"text": "hi", "recipients": [{"type": "responsible"}, {"type": "user", "id": people["rep"].id}]})
    assert len(_all(kit, EmailMessage)) == 1  # the same person named twice
    with kit.runtime.sessions() as s, pytest.raises(IntegrityError), s.begin():
        s.add(EmailMessage(run_id=kit.last_run_id, user_id=people["rep"].id, from_address="a", to_address="b",
                           subject="again"))


def test_notify_supervisor_follows_the_heads_choice(kit, people):
    _choose(kit, people["boss"], {"supervisor": ["in_app", "email_digest"]})
    out = kit.run("notify_supervisor", {"text": "Check {{ deal.title }}"})
    [note] = _all(kit, Notification)
    assert note.user_id == people["boss"].id and out == {"notification_id": note.id}
    [item] = _all(kit, DigestItem)
    assert (item.user_id, item.kind, item.text, item.run_id) == (people["boss"].id, "supervisor",
                                                                 "Check Acme renewal", kit.last_run_id)
    assert _all(kit, EmailMessage) == []  # the digest goes out at the digest hour
