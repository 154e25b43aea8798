"""Scale-out mode: web app + `kanban worker` on PostgreSQL and a private Redis; a lost message is re-sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.db import make_engine
from kanban.services.pipelines import create_pipeline
from tests.conftest import _truncate
from tests.private_redis import PrivateRedis
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
        redis_server.kill()  # the queued message dies with Redis
        redis_server.start()
        worker = _worker(scaled["env"], log)
        [event] = settled(runtime, timeout=30, event_id="evt_b")  # worker start-up + the requeue loop
        assert event.status == "processed" and stage_of(runtime, second) == won
    finally:
        _stop(worker)
    assert "Traceback" not in log.read_text()
