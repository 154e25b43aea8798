"""Move throughput/latency (16 clients, PostgreSQL) vs the trivial /healthz endpoint, in one run.

Run: python -m bench.core_http   (needs PostgreSQL on 127.0.0.1 and `wrk`)
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.harness import fresh_database, seed_pipeline, seed_users, served, wrk
from kanban.stage_totals import recount_stage_totals

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))


def main() -> None:
    """Print both endpoints' figures and the ratio."""
    with fresh_database() as url:
        token, uid = seed_users(url)
        pid, stages = seed_pipeline(url, "Move bench", 4000, uid, stages=2)
        engine = create_engine(url)
        with engine.begin() as conn:
            first = conn.execute(text("select min(id) from deals where pipeline_id=:p"), {"p": pid}).scalar()
            conn.execute(text("update deals set stage_id=:s where pipeline_id=:p"), {"s": stages[0], "p": pid})
        with Session(engine) as session, session.begin():
            recount_stage_totals(session, pid)  # the bulk update above bypassed the services
        engine.dispose()
        env = {
            "BENCH_FIRST_DEAL": str(first),
            "BENCH_DEALS": "4000",
            "BENCH_STAGE_A": str(stages[0]),
            "BENCH_STAGE_B": str(stages[1]),
            "BENCH_TOKEN": token,
        }
        script = str(Path(__file__).with_name("move.lua"))
        with served(url, workers=2) as base:
            wrk(base + "/healthz", seconds=2)  # warm-up
            trivial = wrk(base + "/healthz", seconds=SECONDS)
            move = wrk(base + "/", seconds=SECONDS, script=script, env=env)
        engine = create_engine(url)
        with engine.connect() as conn:
            moves = conn.execute(text("select count(*) from stage_entries")).scalar()
        engine.dispose()
    t = trivial
    print(f"trivial GET /healthz      : {t['rps']:8.0f} req/s  p50 {t['p50']:.1f} ms  p99 {t['p99']:.1f} ms")
    print(
        f"POST /deals/{{id}}/move    : {move['rps']:8.0f} req/s  p50 {move['p50']:.1f} ms  p99 {move['p99']:.1f} ms"
        f"  non-2xx {int(move['errors'])}  stage entries written {moves}"
    )
    print(f"ratio move/trivial        : {move['rps'] / trivial['rps']:.2f}  (target >= 0.25)")


if __name__ == "__main__":
    main()
