"""The outbound HTTP guard: every resolved address is checked, and the request is pinned to a checked one."""

from __future__ import annotations

import socket

import httpx
import pytest

from kanban.outbound import BlockedAddressError, Http, OutboundError, public_addresses


def _dns(monkeypatch, answers):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror("unknown host")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


def test_a_public_name_is_pinned_to_its_checked_address(monkeypatch):
    _dns(monkeypatch, {"hooks.example": ["93.184.215.14"]})
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    http = Http(transport=httpx.MockTransport(handler))
    response = http.post_json_guarded("http://hooks.example:8080/in?x=1", {"a": 1}, {"webhook-id": "run_1"})
    assert response.status_code == 200
    [request] = seen
    assert str(request.url) == "http://93.184.215.14:8080/in?x=1"
    assert request.headers["host"] == "hooks.example:8080" and request.headers["webhook-id"] == "run_1"


def test_https_keeps_the_tls_server_name(monkeypatch):
    _dns(monkeypatch, {"hooks.example": ["93.184.215.14"]})
    seen = []
    http = Http(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(204)))
    http.post_json_guarded("https://hooks.example/in", {}, {})
    assert seen[0].url.host == "93.184.215.14" and seen[0].extensions["sni_hostname"] == "hooks.example"


@pytest.mark.parametrize("addresses", [["93.184.215.14", "10.0.0.5"], ["192.168.1.1"], ["::1"],
                                       ["::ffff:127.0.0.1"], ["fe80::1"], ["100.64.0.1"], ["240.0.0.1"]])
def test_any_private_or_reserved_answer_refuses_the_host(monkeypatch, addresses):
    _dns(monkeypatch, {"rebind.example": addresses})
    with pytest.raises(BlockedAddressError):
        public_addresses("rebind.example", 80)


def test_unresolvable_hosts_are_transient(monkeypatch):
    _dns(monkeypatch, {})
    with pytest.raises(OutboundError) as caught:
        public_addresses("nowhere.example", 80)
    assert caught.value.transient


def test_redirects_are_not_followed(monkeypatch):
    _dns(monkeypatch, {"hooks.example": ["93.184.215.14"]})
    http = Http(transport=httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"Location": "http://169.254.169.254/"})))
    assert http.post_json_guarded("http://hooks.example/", {}, {}).status_code == 302


def test_ipv6_answers_are_pinned_in_brackets(monkeypatch):
    _dns(monkeypatch, {"v6.example": ["2606:2800:220:1:248:1893:25c8:1946"]})
    seen = []
    http = Http(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)))
    http.post_json_guarded("http://v6.example/hook", {}, {})
    assert str(seen[0].url) == "http://[2606:2800:220:1:248:1893:25c8:1946]/hook"
    assert seen[0].headers["host"] == "v6.example"


def test_the_client_reopens_after_close():
    http = Http(transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    assert http.request("POST", "http://service.example/").status_code == 204
    http.close()  # a web app's shutdown closes it; the same runtime can serve again
    assert http.request("POST", "http://service.example/").status_code == 204
    http.close()


@pytest.mark.parametrize("addresses", [
    ["2002:7f00:1::"],  # 6to4 of 127.0.0.1
    ["2002:0a00:0005::1"],  # 6to4 of 10.0.0.5
    ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254 (cloud metadata)
    ["64:ff9b::7f00:1"],  # NAT64 of 127.0.0.1
    ["::127.0.0.1"],  # IPv4-compatible
    ["::ffff:10.0.0.1"],  # IPv4-mapped
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe"],  # Teredo whose client is 10.0.0.1
])
def test_ipv6_forms_embedding_a_private_ipv4_are_refused(monkeypatch, addresses):
    _dns(monkeypatch, {"embedded.example": addresses})
    with pytest.raises(BlockedAddressError):
        public_addresses("embedded.example", 80)


def test_ipv6_forms_embedding_a_public_ipv4_stay_allowed(monkeypatch):
    _dns(monkeypatch, {"six.example": ["2002:5db8:d70e::1", "64:ff9b::5db8:d70e"]})
    assert public_addresses("six.example", 80) == ["2002:5db8:d70e::1", "64:ff9b::5db8:d70e"]


@pytest.mark.parametrize("url", ["http://hooks.example:99999/x", "http://hooks.example:0/", "http://[::1/",
                                 "ftp://hooks.example/", "http:///path"])
def test_invalid_urls_fail_permanently_before_any_lookup(url):
    with pytest.raises(OutboundError) as caught:
        Http().post_json_guarded(url, {}, {})
    assert not caught.value.transient
