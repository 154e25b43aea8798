"""`kanban worker`: Dramatiq worker threads plus the background loops (robot dispatcher, delivery) until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from kanban.config import Settings

log = logging.getLogger("kanban.worker")
PARENT_ENV = "KANBAN_WORKER_PARENT"
RESTART_PAUSE = 1.0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def serve_one(settings: Settings, threads: int, requeue_after: float) -> int:
    """One worker process: threads executing messages and the loops, until SIGTERM or its parent is gone."""
    from kanban.actors import start_embedded, stop_embedded
    from kanban.bootstrap import bootstrap

    stop = _stop_on_signals()
    runtime = bootstrap(settings)
    runtime.extras["robots.requeue_after"] = requeue_after
    start_embedded(runtime, threads=threads)
    parent = int(os.environ.get(PARENT_ENV) or 0)
    log.info("worker %s: %s threads, broker %s", os.getpid(), threads, type(runtime.extras["broker"]).__name__)
    try:
        while not stop.wait(0.5):
            if parent and os.getppid() != parent:
                log.warning("worker %s: supervisor %s is gone; stopping", os.getpid(), parent)
                break
    finally:
        stop_embedded(runtime)
        for fn in reversed(runtime.shutdown):
            fn()
        runtime.engine.dispose()
    return 0


def _spawn(threads: int, requeue_after: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    cmd = [sys.executable, "-m", "kanban.cli", "worker", "--processes", "1", "--threads", str(threads),
           "--requeue-after", str(requeue_after)]
    return subprocess.Popen(cmd, env=env)


def supervise(processes: int, threads: int, requeue_after: float) -> int:
    """Run N worker processes, restart any that dies, and pass SIGTERM on to all of them."""
    stop = _stop_on_signals()
    children = [_spawn(threads, requeue_after) for _ in range(processes)]
    while not stop.wait(0.5):
        for index, child in enumerate(children):
            code = child.poll()
            if code is not None:
                log.warning("worker process %s exited with %s; restarting it", child.pid, code)
                time.sleep(RESTART_PAUSE)
                children[index] = _spawn(threads, requeue_after)
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def run(settings: Settings, *, processes: int = 1, threads: int = 8, requeue_after: float = 30.0) -> int:
    """Entry point of `kanban worker`; refuses to start without REDIS_URL (embedded mode needs no worker)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    if not settings.redis_url:
        log.error("kanban worker needs REDIS_URL (in embedded mode `kanban serve` runs the worker itself)")
        return 2
    if processes > 1:
        return supervise(processes, threads, requeue_after)
    return serve_one(settings, threads, requeue_after)
