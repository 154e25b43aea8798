"""Guards for public inbound endpoints: per-IP token-bucket rate limit, capped bodies, tunable options."""

from __future__ import annotations

import threading
import time

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request

MAX_BODY = 64 * 1024


class IntakeOptions(BaseSettings):
    """Knobs for inbound endpoints, read from the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    machine_open_seconds: float = Field(default=10.0, alias="KANBAN_MACHINE_OPEN_SECONDS")
    rate_per_second: float = Field(default=50.0, alias="KANBAN_HOOK_RATE")
    burst: float = Field(default=200.0, alias="KANBAN_HOOK_BURST")
    max_body: int = Field(default=MAX_BODY, alias="KANBAN_HOOK_MAX_BODY")


class BodyTooLargeError(Exception):
    """The request body exceeds the cap."""


class RateLimiter:
    """In-process token bucket per client IP (per web process; enough to blunt floods and scans)."""

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token for this client; False when its bucket is empty."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > self.max_clients:
                self._buckets.clear()  # bounded memory under a spray of addresses; refills are cheap
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True


def client_key(request: Request) -> str:
    """The client address the limiter counts against."""
    return request.client.host if request.client else "unknown"


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, or BodyTooLargeError as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)
