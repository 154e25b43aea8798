"""Move throughput/latency (16 clients, PostgreSQL) vs a bare endpoint doing the move's essential writes.

Run: python -m bench.core_http   (needs PostgreSQL on 127.0.0.1 and `wrk`)

The baseline (`bench.bare_app`) is served the same way (uvicorn, 2 workers, same database) and does only the
move's essential writes in one transaction; the trivial endpoints of both servers are measured too, and a warning
is printed when they are implausibly slow (a busy machine makes every ratio meaningless). Targets (issue 11):
API move >= 0.5x the bare move, p99 <= 50 ms; the board's htmx move (both columns re-rendered) >= 0.3x.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.harness import fresh_database, machine_report, seed_pipeline, seed_users, served, served_bare, wrk
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
        print(machine_report())
        with served_bare(url, workers=2) as base:
            wrk(base + "/bare/healthz", seconds=2)  # warm-up
            bare_trivial = wrk(base + "/bare/healthz", seconds=SECONDS)
            bare = wrk(base + "/", seconds=SECONDS, script=script, env={**env, "BENCH_MOVE_PREFIX": "/bare/deals/"})
        with served(url, workers=2) as base:
            wrk(base + "/healthz", seconds=2)  # warm-up
            trivial = wrk(base + "/healthz", seconds=SECONDS)
            move = wrk(base + "/", seconds=SECONDS, script=script, env=env)
            # The board's drag and drop: the same moves through the htmx endpoint, both columns re-rendered. The
            # API phase left deals in both stages; each request names the stage it moves from, as the board does.
            _reset_stages(url, pid, stages[0])
            cookie, csrf = web_login(base)
            htmx = wrk(base + "/", seconds=SECONDS, script=str(Path(__file__).with_name("move_htmx.lua")),
                       env={**env, "BENCH_COOKIE": cookie, "BENCH_CSRF": csrf})
        engine = create_engine(url)
        with engine.connect() as conn:
            moves = conn.execute(text("select count(*) from stage_entries")).scalar()
        engine.dispose()
    for label, fig in (("bare GET /bare/healthz", bare_trivial), ("app  GET /healthz", trivial),
                       ("bare POST move (SQL only)", bare), ("app  POST /api/v1/deals/{id}/move", move),
                       ("app  POST /deals/{id}/move (htmx)", htmx)):
        print(f"{label:34}: {fig['rps']:8.0f} req/s  p50 {fig['p50']:.1f} ms  p99 {fig['p99']:.1f} ms"
              f"  non-2xx {int(fig['errors'])}")
    print(f"stage entries written: {moves}")
    print(f"ratio app move / bare move        : {move['rps'] / bare['rps']:.2f}  (target >= 0.5; p99 target <= 50 ms)")
    print(f"ratio htmx move / bare move       : {htmx['rps'] / bare['rps']:.2f}  (target >= 0.3)")
    print(machine_report(min((bare_trivial, trivial), key=lambda f: f["rps"])))


def _reset_stages(url: str, pipeline_id: int, stage_id: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("update deals set stage_id=:s where pipeline_id=:p"), {"s": stage_id, "p": pipeline_id})
    with Session(engine) as session, session.begin():
        recount_stage_totals(session, pipeline_id)  # the bulk update above bypassed the services
    engine.dispose()


def web_login(base: str) -> tuple[str, str]:
    """The bench admin's session cookie header and CSRF token, through the real login form."""
    with httpx.Client(base_url=base) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"email": "bench@example.com", "password": "benchpass1", "csrf_token": token,
                                    "next": "/"})
        board = client.get("/board")
        csrf = board.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items()), csrf


if __name__ == "__main__":
    main()
