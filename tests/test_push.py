"""Web Push: VAPID keys, subscriptions, and delivery to a local push service that verifies and decrypts."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kanban import clock, push
from kanban.channels import PushMessage, PushSubscription
from kanban.config import load_settings
from kanban.delivery import deliver_push
from kanban.models import User
from kanban.notifications import deliver_notification, save_settings
from kanban.outbound import BlockedAddressError
from tests.fake_http import serve
from tests.fake_push import PushEndpoint


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"KANBAN_PUSH_ALLOW_PRIVATE": "1"}


def _services(runtime: Any) -> dict[str, Any]:
    return runtime.extras["services"]


def _subscribe_and_notify(runtime: Any, user: Any, endpoint: PushEndpoint, url: str, text: str = "Deal won") -> None:
    with runtime.sessions() as s, s.begin():
        push.subscribe(s, runtime.settings, user.id, endpoint.subscription(url))
        save_settings(s, user.id, {"channels": {"default": ["push"]}})
        deliver_notification(s, runtime.settings, _services(runtime)["mailer"], user=s.get(User, user.id),
                             kind="robot", text=text, at=clock.now(), run_id=7)


def _deliver(runtime: Any, allow_private: bool = True) -> int:
    services = _services(runtime)
    return deliver_push(runtime.sessions, services["http"], services["vapid"], allow_private=allow_private)


def _rows(runtime: Any) -> list[PushMessage]:
    with runtime.sessions() as s:
        return list(s.scalars(select(PushMessage).order_by(PushMessage.id)))


def test_push_is_vapid_signed_encrypted_for_the_browser_and_delivered(runtime, rep):
    endpoint = PushEndpoint(_services(runtime)["vapid"].public_key)
    with serve(endpoint.respond) as server:
        _subscribe_and_notify(runtime, rep, endpoint, f"{server.url}/push/abc")
        assert _deliver(runtime) == 1
        assert _deliver(runtime) == 0  # sent once
    assert endpoint.rejected == []
    assert endpoint.received == [{"title": "CRM", "body": "Deal won", "url": "http://testserver/notifications"}]
    [row] = _rows(runtime)
    assert (row.status, row.attempts, row.run_id, row.user_id) == ("sent", 1, 7, rep.id)


def test_a_gone_subscription_is_removed_and_its_push_fails(runtime, rep):
    endpoint = PushEndpoint(_services(runtime)["vapid"].public_key, status=410)
    with serve(endpoint.respond) as server:
        _subscribe_and_notify(runtime, rep, endpoint, f"{server.url}/push/gone")
        _deliver(runtime)
    [row] = _rows(runtime)
    assert row.status == "failed" and "gone" in row.error
    with runtime.sessions() as s:
        assert s.scalars(select(PushSubscription)).all() == []


def test_a_failing_push_service_is_retried_later(runtime, rep):
    endpoint = PushEndpoint(_services(runtime)["vapid"].public_key, status=503)
    with serve(endpoint.respond) as server:
        _subscribe_and_notify(runtime, rep, endpoint, f"{server.url}/push/busy")
        _deliver(runtime)
    [row] = _rows(runtime)
    assert row.status == "queued" and row.attempts == 1 and row.next_attempt_at > clock.now()


def test_a_wrong_vapid_key_is_refused_by_the_push_service(runtime, rep):
    endpoint = PushEndpoint("not-our-key")
    with serve(endpoint.respond) as server:
        _subscribe_and_notify(runtime, rep, endpoint, f"{server.url}/push/x")
        _deliver(runtime)
    assert endpoint.rejected == ["k is not the server's public key"] and endpoint.received == []
    assert _rows(runtime)[0].status == "failed"  # 401 is permanent


def test_endpoints_on_private_addresses_are_refused_unless_allowed(runtime, rep):
    endpoint = PushEndpoint(_services(runtime)["vapid"].public_key)
    with runtime.sessions() as s, s.begin():
        sub = push.subscribe(s, runtime.settings, rep.id, endpoint.subscription("http://127.0.0.1:9/push"))
        s.expunge(sub)
    services = _services(runtime)
    with pytest.raises(BlockedAddressError):
        push.send(services["http"], services["vapid"], sub, {"body": "x"}, clock.now(), allow_private=False)


def test_the_vapid_key_is_generated_once_and_kept_in_the_data_dir(tmp_path):
    first = push.Vapid(load_settings(KANBAN_DATA_DIR=str(tmp_path)))
    again = push.Vapid(load_settings(KANBAN_DATA_DIR=str(tmp_path)))
    assert first.public_key == again.public_key and len(push.unb64url(first.public_key)) == 65
    assert (tmp_path / ".kanban-vapid.pem").stat().st_mode & 0o777 == 0o600
    pem = (tmp_path / ".kanban-vapid.pem").read_text()
    from_env = push.Vapid(load_settings(KANBAN_DATA_DIR=str(tmp_path / "other"), KANBAN_VAPID_PRIVATE_KEY=pem))
    assert from_env.public_key == first.public_key


def test_subscription_api_validates_and_replaces_by_endpoint(runtime, rep_api):
    key = rep_api.get("/api/v1/push/vapid-public-key").json()["public_key"]
    assert key == _services(runtime)["vapid"].public_key
    bad = rep_api.post("/api/v1/me/push-subscriptions", json={"endpoint": "ftp://x", "keys": {"p256dh": "AA"}})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"endpoint", "keys.p256dh", "keys.auth"}
    good = PushEndpoint(key).subscription("https://push.example/abc")
    first = rep_api.post("/api/v1/me/push-subscriptions", json=good)
    again = rep_api.post("/api/v1/me/push-subscriptions", json=good)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert rep_api.delete(f"/api/v1/me/push-subscriptions/{first.json()['id']}").status_code == 204
    assert rep_api.delete(f"/api/v1/me/push-subscriptions/{first.json()['id']}").status_code == 404
