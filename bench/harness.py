"""Shared benchmark plumbing: a fresh PostgreSQL database, a served app, wrk runs, bulk seeding."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.migrate import upgrade
from kanban.models import Deal, DealTag
from kanban.services.pipelines import create_pipeline
from kanban.services.users import create_token, create_user
from kanban.stage_totals import recount_stage_totals

PG_ADMIN = os.environ.get("KANBAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new PostgreSQL database built by the migrations, dropped afterwards."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"kanban_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(database_url: str, *, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`kanban serve` in a subprocess; yields its base URL."""
    with served_process(database_url, workers=workers, extra_env=extra_env) as (base, _pid):
        yield base


@contextmanager
def served_process(database_url: str, *, workers: int = 2,
                   extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`kanban serve` in a subprocess; yields (base URL, pid of the serving process)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "KANBAN_SECRET_KEY": "bench", **(extra_env or {})}
    env.pop("REDIS_URL", None) if "REDIS_URL" not in (extra_env or {}) else None
    cmd = [sys.executable, "-m", "kanban.cli", "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + "/healthz")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def served_bare(database_url: str, *, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The bare baseline app (bench.bare_app) under uvicorn with the app's worker count; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, **(extra_env or {})}
    cmd = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + "/bare/healthz")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_ready(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start: {url}")


# A trivial endpoint under this many req/s on 2 cores means the machine was busy: every ratio is suspect.
PLAUSIBLE_TRIVIAL_RPS = 3000.0


def machine_report(trivial: dict[str, float] | None = None) -> str:
    """The load average, and a loud warning when the trivial endpoint's figure is implausibly low."""
    one, five, fifteen = os.getloadavg()
    lines = [f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"]
    if trivial is not None and trivial["rps"] < PLAUSIBLE_TRIVIAL_RPS:
        lines.append(f"WARNING: the trivial endpoint did only {trivial['rps']:.0f} req/s "
                     f"(< {PLAUSIBLE_TRIVIAL_RPS:.0f}): the machine was busy, the baselines are not trustworthy"
                     " — rerun on a quiet machine")
    if one > (os.cpu_count() or 1) * 0.5:
        lines.append("WARNING: the machine was loaded before this run; rerun when it is quiet")
    return "\n".join(lines)


def seed_users(database_url: str) -> tuple[str, int]:
    """An admin with an API token; returns (token, user id)."""
    rt = bootstrap(load_settings(DATABASE_URL=database_url, KANBAN_SECRET_KEY="bench"))
    with rt.sessions() as s, s.begin():
        user = create_user(s, email="bench@example.com", name="Bench Admin", role="admin", password="benchpass1")
        token = create_token(s, user.email)
        uid = user.id
    rt.engine.dispose()
    return token, uid


def seed_pipeline(database_url: str, name: str, n_deals: int, user_id: int, stages: int = 6) -> tuple[int, list[int]]:
    """A pipeline with n_deals spread over its stages, bulk-inserted; returns (pipeline id, stage ids)."""
    rt = bootstrap(load_settings(DATABASE_URL=database_url, KANBAN_SECRET_KEY="bench"))
    with rt.sessions() as s, s.begin():
        p = create_pipeline(s, name, [{"name": f"Stage {i + 1}"} for i in range(stages)])
        pid, stage_ids = p.id, [st.id for st in p.stages]
    rng = random.Random(42)
    tags = ["vip", "partner", "inbound", "upsell", "renewal"]
    with rt.engine.begin() as conn:
        next_id = (conn.execute(text("select coalesce(max(id), 0) from deals")).scalar() or 0) + 1
        batch: list[dict[str, object]] = []
        tag_rows: list[dict[str, object]] = []
        for i in range(n_deals):
            deal_id = next_id + i
            tag = rng.choice(tags)
            batch.append(
                {
                    "id": deal_id,
                    "pipeline_id": pid,
                    "stage_id": rng.choice(stage_ids),
                    "title": f"Deal {deal_id} {rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella'])}",
                    "amount": rng.randint(100, 5_000_000),
                    "currency": "USD",
                    "responsible_id": user_id,
                    "fields": {},
                    "tags": [tag],
                    "version": 1,
                    "rank": float(-i),
                }
            )
            tag_rows.append({"deal_id": deal_id, "tag": tag})
            if len(batch) == 5000:
                conn.execute(insert(Deal.__table__), batch)
                conn.execute(insert(DealTag.__table__), tag_rows)
                batch, tag_rows = [], []
        if batch:
            conn.execute(insert(Deal.__table__), batch)
            conn.execute(insert(DealTag.__table__), tag_rows)
        if conn.dialect.name == "postgresql":
            conn.execute(text("select setval(pg_get_serial_sequence('deals', 'id'), (select max(id) from deals))"))
    # The bulk insert bypassed the services, so the kept per-stage totals are rebuilt from the deals.
    with rt.sessions() as s, s.begin():
        recount_stage_totals(s, pid)
    if rt.engine.dialect.name == "postgresql":
        # In production autovacuum does this; right after a bulk load the visibility map is empty, so
        # index-only scans would still visit the heap and the benchmark would time a state no server stays in.
        with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    rt.engine.dispose()
    return pid, stage_ids


def wrk(
    url: str, *, connections: int = 16, seconds: int = 10, script: str | None = None, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Run wrk and return requests/s and latency percentiles (ms)."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    proc = subprocess.run(cmd + [url], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": pct.get("50", 0.0),
        "p99": pct.get("99", 0.0),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(value: str) -> float:
    num = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    if value.endswith("us"):
        return num / 1000
    if value.endswith("ms"):
        return num
    if value.endswith("s"):
        return num * 1000
    return num
