"""Scale-out mode: web app + `kanban worker` on PostgreSQL and a private Redis; a lost message is re-sent."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.db import make_engine
from kanban.services.pipelines import create_pipeline
from tests.conftest import _truncate, service_missing
from tests.triggers.conftest import (
    STRIPE_SECRETS,
    add_trigger,
    make_deal,
    make_invoice,
    settled,
    stage_of,
    stripe_event,
    stripe_headers,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A non-persistent redis-server of this test only (other tests' workers never see its queues)."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.proc = _free_port(), workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    try:
        subprocess.run(["redis-server", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        service_missing("redis-server binary", exc)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def scaled(postgresql_database_url: str, redis_server: PrivateRedis, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The web side's runtime (no embedded worker with REDIS_URL) and the environment for worker processes."""
    env = {"DATABASE_URL": postgresql_database_url, "REDIS_URL": redis_server.url, "KANBAN_SECRET_KEY": "scale",
           "KANBAN_DATA_DIR": str(tmp_path), "KANBAN_STRIPE_WEBHOOK_SECRET": STRIPE_SECRETS}
    engine = make_engine(postgresql_database_url)
    _truncate(engine)
    runtime = bootstrap(load_settings(**env), engine=engine)
    yield {"runtime": runtime, "env": env}
    for fn in reversed(runtime.shutdown):
        fn()
    engine.dispose()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "kanban.cli", "worker", "--threads", "2", "--requeue-after", "1"]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_worker_processes_webhooks_and_recovers_a_lost_message(scaled, redis_server, tmp_path):
    from kanban.web.app import create_app

    runtime = scaled["runtime"]
    with runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "Sales", [{"name": "Invoice"}, {"name": "Won", "kind": "won"}])
        invoice_stage, won = (st.id for st in pipeline.stages)
    add_trigger(runtime, won, "invoice_paid")
    first, second = make_deal(runtime, pipeline, invoice_stage), make_deal(runtime, pipeline, invoice_stage)
    first_invoice, second_invoice = make_invoice(runtime, first, token=None), make_invoice(runtime, second, token=None)
    log = tmp_path / "worker.log"
    worker = _worker(scaled["env"], log)
    try:
        with TestClient(create_app(runtime)) as client:
            body = stripe_event(first_invoice, event_id="evt_a")
            assert client.post("/hooks/payments/stripe", content=body, headers=stripe_headers(body)).status_code == 200
            settled(runtime, event_id="evt_a")
            assert stage_of(runtime, first) == won
            _stop(worker)
            body = stripe_event(second_invoice, event_id="evt_b")
            assert client.post("/hooks/payments/stripe", content=body, headers=stripe_headers(body)).status_code == 200
        redis_server.stop()  # the queued message dies with Redis
        redis_server.start()
        worker = _worker(scaled["env"], log)
        [event] = settled(runtime, timeout=30, event_id="evt_b")  # worker start-up + the requeue loop
        assert event.status == "processed" and stage_of(runtime, second) == won
    finally:
        _stop(worker)
    assert "Traceback" not in log.read_text()
