"""The Dramatiq broker for this process (stub in embedded mode, Redis otherwise)."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker


def make_broker(redis_url: str | None) -> dramatiq.Broker:
    """A Redis broker when REDIS_URL is set, else an in-memory stub broker."""
    if redis_url:
        return RedisBroker(url=redis_url)
    return StubBroker()


def install(runtime: Any) -> None:
    """Create this process's broker and make it the global one before actors are declared."""
    broker = make_broker(runtime.settings.redis_url)
    dramatiq.set_broker(broker)
    runtime.extras["broker"] = broker
