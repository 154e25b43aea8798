"""Outgoing HTTP for robots and providers: timeouts, error classes, and the private-address guard."""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class OutboundError(Exception):
    """A call to the outside world failed; `transient` says whether trying again later can help."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class BlockedAddressError(OutboundError):
    """The target resolves to a private, loopback, link-local or reserved address."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def is_transient_status(status: int) -> bool:
    """5xx, 408 (timeout) and 429 (rate limited) are worth retrying; other 4xx are not."""
    return status >= 500 or status in (408, 429)


def check_status(response: httpx.Response, what: str) -> httpx.Response:
    """Raise OutboundError for a non-2xx response, classed transient or permanent by its status."""
    if 200 <= response.status_code < 300:
        return response
    body = response.text[:200] if response.content else ""
    raise OutboundError(f"{what} answered HTTP {response.status_code} {body}".strip(),
                        transient=is_transient_status(response.status_code), status=response.status_code)


NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address reaches through: mapped, compatible, 6to4, Teredo and NAT64 forms."""
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in NAT64 or ip in NAT64_LOCAL or ip in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in found if v4 is not None]


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner:
            # A translated address is as private as the IPv4 address it leads to (6to4 2002:7f00:1:: → 127.0.0.1).
            return any(_forbidden(v4) for v4 in inner) or ip in NAT64_LOCAL
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified or not ip.is_global)


def check_url(url: str) -> str:
    """The URL when it is http(s) with a host and a valid port; a permanent OutboundError saying why otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError beyond 65535 or when not a number
    except ValueError as exc:
        raise OutboundError(f"not a valid URL: {exc}", transient=False) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError(f"not an http(s) URL: {url!r}", transient=False)
    if port == 0:
        raise OutboundError("port 0 is not a valid port", transient=False)
    return url


def public_addresses(host: str, port: int) -> list[str]:
    """Resolve a host and return its addresses, refusing it if ANY of them is not a public address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundError(f"cannot resolve {host}: {exc}", transient=True) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if _forbidden(ipaddress.ip_address(address.split("%", 1)[0])):
            raise BlockedAddressError(f"{host} resolves to {address}, a private or reserved address")
    if not addresses:
        raise OutboundError(f"{host} has no address", transient=True)
    return addresses


class Http:
    """The HTTP service kinds and providers share (one pooled client, fixed timeouts, no redirects)."""

    def __init__(self, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None):
        self.timeout = timeout
        self.transport = transport
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """The pooled client, (re)opened on first use: a runtime may be started again after a shutdown."""
        with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, transport=self.transport)
            return self._client

    def close(self) -> None:
        """Release pooled connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request to a configured (trusted) endpoint; network failures become transient OutboundErrors."""
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise OutboundError(f"{url}: timed out", transient=True) from exc
        except httpx.HTTPError as exc:
            raise OutboundError(f"{url}: {type(exc).__name__}: {exc}", transient=True) from exc

    def post_json_guarded(self, url: str, payload: Any, headers: dict[str, str], *,
                          allow_private: bool = False, body: bytes | None = None) -> httpx.Response:
        """POST JSON to an admin-given URL; unless allowed, only to public addresses, pinned to the checked IP.

        `body`: the exact bytes to send (already-serialized `payload`, e.g. because they are signed)."""
        parts = urlsplit(check_url(url))
        send: dict[str, Any] = {"json": payload} if body is None else {"content": body}
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        if allow_private:
            return self.request("POST", url, headers=headers, **send)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = public_addresses(parts.hostname, port)[0]
        # Connect to the address we checked (no second DNS lookup to rebind); keep Host and TLS name.
        pinned = httpx.URL(url).copy_with(host=address)
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        return self.request("POST", str(pinned), extensions=extensions, **send,
                            headers={**headers, "Host": parts.netloc.rsplit("@", 1)[-1]})
