"""Issue 12 item 5 (robots): date-field delays follow their field, and the other correctness gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from kanban.events import Actor
from kanban.services.deals import update_deal


def _update(runtime: Any, deal: int, values: dict[str, Any]) -> None:
    with runtime.sessions() as s, s.begin():
        update_deal(s, deal, values, actor=Actor("system"))


def test_date_field_delay_follows_its_field(runtime, clock, stages, add_robot, new_deal, move, runs, run_all):
    clock.at = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    add_robot(stages["Qualified"], "remind", delay={"type": "before_field", "field": "deal.fields.meeting",
                                                     "seconds": 3600})
    add_robot(stages["Qualified"], "later", delay={"type": "after", "seconds": 600})
    deal = new_deal(fields={"meeting": "2026-05-06T09:00:00Z"})
    move(deal, stages["Qualified"])
    remind, later = runs(deal)
    assert remind.due_at == datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
    _update(runtime, deal, {"fields": {"meeting": "2026-05-08T15:00:00Z"}})
    remind, same = runs(deal)
    assert remind.due_at == datetime(2026, 5, 8, 14, 0, tzinfo=UTC)
    assert same.due_at == later.due_at  # other delays and other fields are left alone
    _update(runtime, deal, {"title": "Renamed"})
    assert runs(deal)[0].due_at == datetime(2026, 5, 8, 14, 0, tzinfo=UTC)
    # Moved into the past: due at once, and it runs.
    _update(runtime, deal, {"fields": {"meeting": "2026-05-04T10:30:00Z"}})
    assert runs(deal)[0].due_at == clock.at
    run_all()
    assert runs(deal)[0].status == "done"
    # A finished run does not move again.
    _update(runtime, deal, {"fields": {"meeting": "2026-06-01T10:00:00Z"}})
    assert runs(deal)[0].due_at == clock.at and runs(deal)[0].status == "done"
    assert runs(deal)[1].due_at == clock.at + timedelta(seconds=600)


CHAT = {"name": "Deal {{ deal.title }}",
        "members": [{"type": "role", "role": "admin"}, {"type": "role", "role": "rep"}]}


def test_typed_outputs_are_checked_at_save_time(admin_api, stages):
    stage = stages["Proposal"]

    def add(**body: Any) -> Any:
        return admin_api.post(f"/api/v1/stages/{stage}/robots", json=body)

    assert add(kind="create_group_chat", key="chat", settings=CHAT).status_code == 201
    mail = add(kind="email_employee", key="mail", after_previous=True,
               settings={"subject": "Hi", "body": "Hello {{ deal.title }}"})
    assert mail.status_code == 201, mail.text
    wrong = add(kind="send_chat_message", key="msg", after_previous=True,
                settings={"chat": "{{ robots.mail.message_id }}", "text": "Hi"})
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["error"]["fields"]["settings.chat"] == (
        "{{ robots.mail.message_id }} is an email, but this setting takes a chat")
    # The chat robot's chat_id is a chat (the mail robot in between keeps the after_previous chain).
    right = add(kind="send_chat_message", key="msg", after_previous=True,
                settings={"chat": "{{ robots.chat.chat_id }}", "text": "Hi"})
    assert right.status_code == 201, right.text
    # A webhook URL that is exactly a chat id is refused; a URL with an id inside is text, not a reference.
    hook = add(kind="webhook", key="hook", after_previous=True, settings={"url": "{{ robots.chat.chat_id }}"})
    assert hook.status_code == 422 and "takes a URL" in hook.json()["error"]["fields"]["settings.url"]
    inside = add(kind="webhook", key="hook", after_previous=True,
                 settings={"url": "https://example.com/chats/{{ robots.chat.chat_id }}"})
    assert inside.status_code == 201, inside.text


def test_outgoing_webhooks_are_signed_with_the_robots_secret(admin_api, runtime, stages, new_deal, move, run_all):
    from standardwebhooks.webhooks import Webhook

    from tests.fake_http import serve

    with serve() as target:
        created = admin_api.post(f"/api/v1/stages/{stages['Qualified']}/robots",
                                 json={"kind": "webhook", "settings": {"url": target.url + "/in",
                                                                        "allow_private": True}})
        assert created.status_code == 201, created.text
        robot = created.json()
        secret = robot["secret"]
        assert secret.startswith("whsec_")
        # Shown once: never in reads.
        assert "secret" not in admin_api.get(f"/api/v1/robots/{robot['id']}").json()
        assert secret not in admin_api.get(f"/api/v1/stages/{stages['Qualified']}/robots").text
        deal = new_deal()
        move(deal, stages["Qualified"])
        run_all()
        [seen] = target.requests
        headers = {k.lower(): v for k, v in seen.headers.items()}
        assert headers["webhook-id"].startswith("run_") and headers["webhook-signature"].startswith("v1,")
        Webhook(secret).verify(seen.body, headers)  # raises when the signature does not match
        assert seen.json()["deal"]["id"] == deal
        # A rotated secret signs from then on; the old one no longer verifies.
        rotated = admin_api.post(f"/api/v1/robots/{robot['id']}/rotate-secret")
        assert rotated.status_code == 200 and rotated.json()["secret"] != secret
        move(deal, stages["Proposal"])
        move(deal, stages["Qualified"])
        run_all()
        second = target.requests[1]
        headers2 = {k.lower(): v for k, v in second.headers.items()}
        Webhook(rotated.json()["secret"]).verify(second.body, headers2)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(second.body, headers2)
    assert admin_api.post(f"/api/v1/robots/{robot['id']}/rotate-secret").status_code == 200
    other = admin_api.post(f"/api/v1/stages/{stages['New']}/robots",
                           json={"kind": "add_tag", "settings": {"tags": ["x"]}}).json()
    assert "secret" not in other
    assert admin_api.post(f"/api/v1/robots/{other['id']}/rotate-secret").status_code == 422


def test_the_automation_view_shows_a_new_webhook_robots_secret_once(client, runtime, admin, stages):
    from sqlalchemy import select

    from robots.models import Robot
    from tests.conftest import csrf_of, login
    from tests.robots.test_web import post_robot

    login(client, admin.email)
    csrf_of(client, "/automation")
    page = post_robot(client, stages["Won"], "webhook", **{"s.url": "https://example.com/hook"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    with runtime.sessions() as s:
        secret = s.scalar(select(Robot.secret).where(Robot.stage_id == stages["Won"]))
    assert secret and secret in page.text and "shown only once" in page.text
    assert secret not in client.get("/automation").text


def test_bulk_retry_by_robot_automation_and_time_and_success_clears_the_error(client, runtime, admin_api, clock,
                                                                              stages, add_robot, new_deal, move,
                                                                              runs, run_all, rep):
    from tests.conftest import token_for
    from tests.robots.conftest import FAILURES

    one = add_robot(stages["Qualified"], "one", settings={"marker": "one"})
    two = add_robot(stages["Qualified"], "two", settings={"marker": "two"})
    deals = [new_deal(title=f"D{n}") for n in range(3)]
    FAILURES["one"] = ["permanent"] * 3
    FAILURES["two"] = ["permanent"] * 3
    for deal in deals[:2]:
        move(deal, stages["Qualified"])
    run_all()
    clock.advance(3600)
    cutoff = clock.at
    move(deals[2], stages["Qualified"])
    run_all()
    assert [r.status for d in deals for r in runs(d)] == ["failed"] * 6
    rep_h = {"Authorization": f"Bearer {token_for(runtime, rep.email)}"}
    assert client.post("/api/v1/runs/retry", json={"status": "failed"}, headers=rep_h).status_code == 403
    assert admin_api.post("/api/v1/runs/retry", json={"status": "done"}).status_code == 422
    assert admin_api.post("/api/v1/runs/retry", json={"status": "failed", "since": "yesterday"}).status_code == 422
    # By robot and time: only robot one's run on the last deal.
    FAILURES["one"] = []
    since = admin_api.post("/api/v1/runs/retry", json={"status": "failed", "robot_id": one,
                                                       "since": cutoff.isoformat()})
    assert since.json() == {"retried": 1, "skipped": 0, "more": False}
    run_all()
    last = {r.robot_id: r for r in runs(deals[2])}
    assert last[one].status == "done" and last[one].error is None  # the old error is gone
    assert last[two].status == "failed" and last[two].error
    # By robot: the two older runs of robot one.
    assert admin_api.post("/api/v1/runs/retry", json={"status": "failed", "robot_id": one}).json()["retried"] == 2
    # A deal that left the stage is skipped, not retried.
    move(deals[0], stages["Proposal"])
    FAILURES["two"] = []
    body = admin_api.post("/api/v1/runs/retry", json={"status": "failed", "robot_id": two}).json()
    assert body == {"retried": 2, "skipped": 1, "more": False}
    run_all()
    assert [r.status for r in runs(deals[1])] == ["done", "done"]
    assert all(r.error is None for r in runs(deals[1]))


def test_bulk_retry_by_automation(runtime, admin_api, admin, stages, new_deal, run_all, test_kinds):
    from robots import automations
    from tests.robots.conftest import FAILURES

    with runtime.sessions() as s, s.begin():
        auto = automations.create_automation(s, {"name": "On create", "event": "deal.created"}, owner_id=admin.id)
        automations.add_action(s, auto.id, {"kind": "test_echo", "key": "e", "settings": {"marker": "auto"}})
        other = automations.create_automation(s, {"name": "Other", "event": "deal.created"}, owner_id=admin.id)
        automations.add_action(s, other.id, {"kind": "test_echo", "key": "e", "settings": {"marker": "other"}})
        auto_id, other_id = auto.id, other.id
    FAILURES["auto"] = ["permanent"]
    FAILURES["other"] = ["permanent"]
    new_deal()
    run_all()
    body = admin_api.post("/api/v1/runs/retry", json={"status": "failed", "automation_id": auto_id}).json()
    assert body["retried"] == 1
    assert admin_api.post("/api/v1/runs/retry", json={"status": "failed", "automation_id": other_id}
                          ).json()["retried"] == 1


def test_failures_alert_admins_in_the_bell_and_the_daily_digest(runtime, admin, rep, clock, stages, add_robot,
                                                                new_deal, move, run_all):
    from sqlalchemy import select

    from kanban.channels import DigestItem
    from kanban.models import EmailMessage, Notification
    from kanban.notifications import send_digests
    from tests.robots.conftest import FAILURES

    add_robot(stages["Qualified"], "fragile", name="Fragile", settings={"marker": "x"})
    FAILURES["x"] = ["permanent", "permanent"]
    deal = new_deal(title="Acme")
    move(deal, stages["Qualified"])
    run_all()
    with runtime.sessions() as s:
        notes = list(s.scalars(select(Notification).where(Notification.deal_id == deal)))
        assert [(n.user_id, n.text) for n in notes] == [
            (admin.id, "Robot “Fragile” failed on deal “Acme”: no email address")]
        [item] = s.scalars(select(DigestItem).where(DigestItem.deal_id == deal))
        assert item.user_id == admin.id and item.kind == "failure"
    # The next daily digest emails it to the admin (reps hear nothing).
    clock.advance(86400 + 3600)
    with runtime.sessions() as s, s.begin():
        assert send_digests(s, runtime.settings, runtime.extras["services"]["mailer"], clock.at) == 1
    with runtime.sessions() as s:
        [email] = s.scalars(select(EmailMessage).where(EmailMessage.kind == "digest"))
        assert email.to_address == admin.email and "Robot “Fragile” failed on deal “Acme”" in email.body_text
    # An admin who chose otherwise for this kind is respected.
    with runtime.sessions() as s, s.begin():
        from kanban.notifications import save_settings

        save_settings(s, admin.id, {"channels": {"failure": ["in_app"]}})
    with runtime.sessions() as s, s.begin():
        from robots.engine import retry_run
        from robots.models import RobotRun

        retry_run(s, s.scalar(select(RobotRun.id).where(RobotRun.deal_id == deal)))
    run_all()
    with runtime.sessions() as s:
        assert len(list(s.scalars(select(Notification).where(Notification.deal_id == deal)))) == 2
        assert len(list(s.scalars(select(DigestItem).where(DigestItem.deal_id == deal)))) == 1
