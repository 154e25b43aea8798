"""webhook: JSON POST of the deal with the run id as idempotency key; private targets refused; error classes."""

from __future__ import annotations

import httpx
import pytest

from kanban.outbound import Http
from robots.errors import PermanentError, TransientError
from tests.fake_http import serve


def test_webhook_posts_the_deal_with_idempotency_headers(kit):
    with serve(lambda seen: (202, None)) as fake:
        out = kit.run("webhook", {"url": fake.url + "/hooks/deal/{{ deal.id }}", "allow_private": True})
    assert out == {"status": 202}
    [seen] = fake.requests
    assert seen.path == f"/hooks/deal/{kit.deal_id}"
    assert seen.headers["idempotency-key"] == f"run_{kit.last_run_id}" == seen.headers["webhook-id"]
    body = seen.json()
    assert body["event"] == "robot.webhook" and body["run_id"] == kit.last_run_id
    assert body["deal"]["title"] == "Acme renewal" and body["deal"]["amount_minor"] == 125000
    assert body["contact"]["email"] == "carla@client.example" and body["stage"]["name"] == "New"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "169.254.169.254", "0.0.0.0"])
def test_private_and_loopback_targets_are_refused_unless_allowed(kit, host):
    with serve() as fake:
        port = fake.port
        with pytest.raises(PermanentError, match="private or reserved"):
            kit.run("webhook", {"url": f"http://{host}:{port}/x"})
    assert fake.requests == []


def test_only_http_urls(kit):
    with pytest.raises(ValueError, match="not an http"):  # refused when the settings are saved
        kit.run("webhook", {"url": "file:///etc/passwd"})


def test_a_templated_url_with_an_invalid_port_fails_permanently(kit):
    with pytest.raises(PermanentError, match="Port out of range"):
        kit.run("webhook", {"url": "http://hooks.example:9999{{ deal.id }}/in"})


@pytest.mark.parametrize(("status", "error"), [(500, TransientError), (503, TransientError),
                                               (429, TransientError), (404, PermanentError),
                                               (400, PermanentError), (302, PermanentError)])
def test_error_statuses(kit, status, error):
    with serve(lambda seen: (status, {"error": "nope"})) as fake, pytest.raises(error, match=str(status)):
        kit.run("webhook", {"url": fake.url, "allow_private": True})


def test_timeouts_are_transient(kit):
    http = Http(timeout=httpx.Timeout(0.3))
    kit.services = {**kit.runtime.extras["services"], "http": http}
    try:
        with serve(delay=1.5) as fake, pytest.raises(TransientError, match="timed out"):
            kit.run("webhook", {"url": fake.url, "allow_private": True})
    finally:
        http.close()


def test_connection_refused_is_transient(kit):
    with serve() as fake:
        url = fake.url
    with pytest.raises(TransientError):
        kit.run("webhook", {"url": url, "allow_private": True})
