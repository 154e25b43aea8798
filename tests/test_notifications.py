"""Notification channels: settings per user and kind (API and page), routing of one notification, daily digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from kanban.channels import DigestItem, NotificationSetting
from kanban.models import EmailMessage, Notification, User
from kanban.notifications import channels_for, deliver_notification, digest_cutoff, save_settings, send_digests
from tests.conftest import csrf_of, login


def _deliver(runtime: Any, user: Any, kind: str = "robot", text: str = "Call Acme", **kw: Any) -> Any:
    with runtime.sessions() as s, s.begin():
        return deliver_notification(s, runtime.settings, runtime.extras["services"]["mailer"],
                                    user=s.get(User, user.id), kind=kind, text=text,
                                    at=kw.pop("at", datetime.now(UTC)), **kw)


def _all(runtime: Any, model: Any) -> list[Any]:
    with runtime.sessions() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def test_settings_api_defaults_to_in_app_and_replaces_choices(rep_api):
    assert rep_api.get("/api/v1/me/notification-settings").json()["channels"] == {"default": ["in_app"]}
    body = {"channels": {"default": ["in_app", "email_digest"], "mention": ["push", "email"]}}
    saved = rep_api.put("/api/v1/me/notification-settings", json=body)
    assert saved.status_code == 200 and saved.json()["channels"] == body["channels"]
    again = rep_api.put("/api/v1/me/notification-settings", json={"channels": {"robot": ["email"]}})
    assert again.json()["channels"] == {"default": ["in_app"], "robot": ["email"]}  # replaced as a whole


def test_bad_settings_are_refused_with_each_field_and_nothing_written(runtime, rep_api):
    bad = rep_api.put("/api/v1/me/notification-settings", json={"channels": {
        "gossip": ["in_app"], "robot": ["fax"], "mention": ["email", "email_digest"], "default": "push"}})
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert set(fields) == {"channels.gossip", "channels.robot", "channels.mention", "channels.default"}
    assert "not both" in fields["channels.mention"]
    assert _all(runtime, NotificationSetting) == []


def test_a_kind_without_its_own_choice_follows_default(runtime, rep):
    with runtime.sessions() as s, s.begin():
        assert channels_for(s, rep.id, "robot") == ["in_app"]
        save_settings(s, rep.id, {"channels": {"default": ["email"], "mention": ["push"]}})
        assert channels_for(s, rep.id, "robot") == ["email"]
        assert channels_for(s, rep.id, "mention") == ["push"]


def test_one_notification_goes_only_to_the_chosen_channels(runtime, rep):
    with runtime.sessions() as s, s.begin():
        save_settings(s, rep.id, {"channels": {"robot": ["email"]}})
    sent = _deliver(runtime, rep, deal_id=None, run_id=41)
    assert _all(runtime, Notification) == [] and sent.notification_id is None
    [mail] = _all(runtime, EmailMessage)
    assert (mail.id, mail.kind, mail.to_address, mail.run_id, mail.user_id) == (
        sent.email_id, "notification", "rep@example.com", 41, rep.id)
    assert mail.subject == "Notification: Call Acme" and "http://testserver/notifications" in mail.body_text
    assert mail.status == "captured"  # no SMTP configured: the dev mailbox shows it
    other = _deliver(runtime, rep, kind="mention")  # mentions still follow the default (in-app)
    assert other.notification_id is not None and other.email_id is None


def test_daily_digest_collects_items_until_the_digest_hour_once(runtime, rep, admin):
    with runtime.sessions() as s, s.begin():
        save_settings(s, rep.id, {"channels": {"default": ["email_digest"]}})
    day = datetime(2026, 3, 2, tzinfo=UTC)
    _deliver(runtime, rep, text="first", at=day + timedelta(hours=6))
    _deliver(runtime, rep, text="second", at=day + timedelta(hours=7, minutes=59))
    _deliver(runtime, rep, text="later", at=day + timedelta(hours=9))
    mailer, settings = runtime.extras["services"]["mailer"], runtime.settings
    assert digest_cutoff(day + timedelta(hours=7), 8) == day - timedelta(hours=16)
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, settings, mailer, day + timedelta(hours=7, minutes=59, seconds=59)) == 0
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, settings, mailer, day + timedelta(hours=10)) == 1
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, settings, mailer, day + timedelta(hours=11)) == 0  # nothing twice
    [digest] = _all(runtime, EmailMessage)
    assert digest.kind == "digest" and digest.to_address == "rep@example.com"
    assert "first" in digest.body_text and "second" in digest.body_text and "later" not in digest.body_text
    assert digest.subject == "Your daily digest: 2 notifications"
    assert [i.email_id for i in _all(runtime, DigestItem)] == [digest.id, digest.id, None]


def test_the_digest_goes_at_the_digest_hour_of_the_readers_time_zone(runtime, rep):
    """8:00 in Tokyo is 23:00 UTC the day before: a Tokyo reader's digest goes then, a UTC reader's at 8:00 UTC."""
    from zoneinfo import ZoneInfo

    day = datetime(2026, 3, 2, tzinfo=UTC)
    assert digest_cutoff(day, 8, ZoneInfo("Asia/Tokyo")) == day - timedelta(hours=1)
    paris = ZoneInfo("Europe/Paris")  # 8:00 on the day clocks go forward (29 March) is 06:00 UTC, 7:00 before
    assert digest_cutoff(datetime(2026, 3, 29, 6, 30, tzinfo=UTC), 8, paris) == datetime(2026, 3, 29, 6, tzinfo=UTC)
    with runtime.sessions() as s, s.begin():
        s.get(type(rep), rep.id).time_zone = "Asia/Tokyo"
        save_settings(s, rep.id, {"channels": {"default": ["email_digest"]}})
    _deliver(runtime, rep, text="evening", at=day - timedelta(hours=3))
    mailer, settings = runtime.extras["services"]["mailer"], runtime.settings
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, settings, mailer, day - timedelta(hours=1, minutes=1)) == 0  # 7:59 in Tokyo
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, settings, mailer, day - timedelta(minutes=30)) == 1  # 8:30 in Tokyo
    [digest] = _all(runtime, EmailMessage)
    assert "evening" in digest.body_text


def test_settings_page_saves_the_form_and_explains_a_bad_choice(runtime, client, rep):
    login(client, rep.email)
    page = client.get("/me/notifications")
    assert page.status_code == 200 and 'id="push-subscribe"' in page.text
    assert runtime.extras["services"]["vapid"].public_key in page.text
    token = csrf_of(client, "/me/notifications")
    form = {"csrf_token": token, "ch.default": ["in_app", "push"], "own.mention": "on", "ch.mention": ["email"]}
    saved = client.post("/me/notifications", data=form, follow_redirects=False)
    assert saved.status_code == 303
    with runtime.sessions() as s:
        assert channels_for(s, rep.id, "mention") == ["email"]
        assert channels_for(s, rep.id, "robot") == ["in_app", "push"]
    bad = client.post("/me/notifications", data={"csrf_token": token, "ch.default": ["email", "email_digest"]})
    assert bad.status_code == 422 and "not both" in bad.text
    with runtime.sessions() as s:
        assert channels_for(s, rep.id, "mention") == ["email"]  # unchanged


def test_assignment_notifications_are_opt_in_and_skip_self_assignment(runtime, pipeline, admin, rep):
    from kanban.events import Actor
    from kanban.services.deals import create_deal, update_deal

    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Quiet", pipeline_id=pipeline.id, actor=Actor.user(admin.id), responsible_id=rep.id)
    assert _all(runtime, Notification) == []  # nobody chose assignment notifications: as before
    with runtime.sessions() as s, s.begin():
        save_settings(s, rep.id, {"channels": {"assignment": ["in_app", "email"]}})
        save_settings(s, admin.id, {"channels": {"assignment": ["in_app"]}})
        update_deal(s, deal.id, {"responsible_id": admin.id}, actor=Actor.user(admin.id))  # self: no notice
        update_deal(s, deal.id, {"responsible_id": rep.id}, actor=Actor.user(admin.id))
    [note] = _all(runtime, Notification)
    assert (note.user_id, note.sender_id, note.deal_id) == (rep.id, admin.id, deal.id)
    assert note.text == "Deal “Quiet” was assigned to you"
    [mail] = _all(runtime, EmailMessage)
    assert mail.to_address == "rep@example.com" and mail.kind == "notification"
