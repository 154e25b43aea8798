"""The Dramatiq broker for this process (stub in embedded mode, Redis otherwise) and the embedded worker."""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

log = logging.getLogger(__name__)
EMBEDDED_THREADS = 4


def make_broker(redis_url: str | None) -> dramatiq.Broker:
    """A Redis broker when REDIS_URL is set, else an in-memory stub broker."""
    if redis_url:
        return RedisBroker(url=redis_url)
    return StubBroker()


def start_background(runtime: Any) -> threading.Event:
    """Run every runtime.background loop in a daemon thread; set the returned event to stop them."""
    stop = threading.Event()
    threads = []
    for loop in runtime.background:
        thread = threading.Thread(target=_guarded(loop, stop), name=getattr(loop, "__name__", "loop"), daemon=True)
        thread.start()
        threads.append(thread)
    runtime.extras["background.threads"] = threads
    return stop


def _guarded(loop: Any, stop: threading.Event) -> Any:
    def run() -> None:
        try:
            loop(stop)
        except Exception:  # noqa: BLE001 - thread boundary: a dead loop must at least be logged
            log.exception("background loop %s stopped with an error", getattr(loop, "__name__", loop))

    return run


def stop_background(runtime: Any, stop: threading.Event, timeout: float = 5.0) -> None:
    """Ask the loops to stop and wait for their threads."""
    stop.set()
    for thread in runtime.extras.pop("background.threads", []):
        thread.join(timeout)


def start_embedded(runtime: Any, threads: int = EMBEDDED_THREADS) -> None:
    """Embedded mode: an in-process Dramatiq worker plus the background loops (dispatcher, delivery...)."""
    if runtime.extras.get("worker") is not None:
        return
    worker = dramatiq.Worker(runtime.extras["broker"], worker_threads=threads, worker_timeout=100)
    worker.start()
    runtime.extras["worker"] = worker
    runtime.extras["background.stop"] = start_background(runtime)


def stop_embedded(runtime: Any) -> None:
    """Stop the embedded worker and loops (the web app's shutdown)."""
    stop = runtime.extras.pop("background.stop", None)
    if stop is not None:
        stop_background(runtime, stop)
    worker = runtime.extras.pop("worker", None)
    if worker is not None:
        worker.stop(timeout=10_000)


def install(runtime: Any) -> None:
    """Create this process's broker, and in embedded mode start the worker with the app and stop it after."""
    broker = make_broker(runtime.settings.redis_url)
    dramatiq.set_broker(broker)
    runtime.extras["broker"] = broker
    if runtime.settings.run_embedded_worker:
        runtime.startup.append(lambda: start_embedded(runtime))
        runtime.shutdown.append(lambda: stop_embedded(runtime))
