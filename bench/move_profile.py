"""SQL statements and CPU per request of the move path, in process (no server, no wrk: robust on a busy machine).

Run: python -m bench.move_profile [sqlite|postgresql]   (PostgreSQL on 127.0.0.1 for the second)

For an API move (`POST /api/v1/deals/{id}/move`), an htmx board move (`POST /deals/{id}/move` with
HX-Request) and a signed Stripe intake (`POST /hooks/payments/stripe`) it prints the SQL statements per
request (SQLAlchemy `before_cursor_execute`; SQLite's BEGIN IMMEDIATE is one, COMMIT is not), the CPU time
per request (client included), the Python function calls per request (a CPU proxy that a busy machine does not
blur) and the top functions of a cProfile over BENCH_PROFILE_MOVES requests (default
200). The app runs in this thread (httpx ASGITransport; the endpoints' worker-thread hop is replaced by a
direct call) so cProfile sees the server side.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

MOVES = int(os.environ.get("BENCH_PROFILE_MOVES", "200"))
SECRET = "whsec_bench"


class StatementCounter:
    """Counts the statements an engine sends (and keeps the last request's, to print)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Collect the statements sent inside the block."""
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield self.statements
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)


@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        from bench.harness import fresh_database

        with fresh_database() as url:
            yield url
    else:
        from kanban.migrate import upgrade

        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/profile.db"
            upgrade(url)
            yield url


def _setup(url: str, tmp: str) -> tuple[Any, Any, dict[str, Any]]:
    from kanban.bootstrap import bootstrap
    from kanban.config import load_settings
    from kanban.events import SYSTEM
    from kanban.security import use_cheap_hashing
    from kanban.services.deals import create_deal
    from kanban.services.pipelines import create_pipeline
    from kanban.services.users import create_token, create_user
    from kanban.web.app import create_app

    use_cheap_hashing()
    settings = load_settings(DATABASE_URL=url, KANBAN_SECRET_KEY="bench", KANBAN_DATA_DIR=tmp,
                             KANBAN_STRIPE_WEBHOOK_SECRET=SECRET, KANBAN_EMBEDDED_WORKER="0",
                             KANBAN_HOOK_RATE="1000000", KANBAN_HOOK_BURST="1000000")
    rt = bootstrap(settings)
    with rt.sessions() as s, s.begin():
        user = create_user(s, email="bench@example.com", name="Bench Admin", role="admin", password="benchpass1")
        token = create_token(s, user.email)
        p = create_pipeline(s, "Profile", [{"name": "A"}, {"name": "B"}, {"name": "C"}])
        stages = [st.id for st in p.stages]
        deals = [create_deal(s, title=f"Deal {n}", pipeline_id=p.id, stage_id=stages[0], amount=100 + n,
                             actor=SYSTEM).id for n in range(MOVES * 2 + 20)]
        pid = p.id
    return rt, create_app(rt), {"token": token, "stages": stages, "deals": deals, "pipeline_id": pid}


async def _direct(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


async def _login(client: Any) -> str:
    page = await client.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    await client.post("/login", data={"email": "bench@example.com", "password": "benchpass1", "csrf_token": csrf,
                                      "next": "/"})
    board = await client.get("/board")
    return board.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


async def _measure(label: str, counter: StatementCounter, calls: list[Callable[[], Any]], show: bool) -> None:
    for call in calls[:3]:  # warm-up: caches, compiled statements
        await call()
    calls = calls[3:]
    with counter.counting() as seen:
        await calls[0]()
    one = list(seen)
    cpu = time.process_time()
    for call in calls[1: len(calls) // 2]:
        await call()
    runs = len(calls) // 2 - 1
    cpu = (time.process_time() - cpu) / max(1, runs)
    profile = cProfile.Profile()
    profile.enable()
    for call in calls[len(calls) // 2:]:
        await call()
    profile.disable()
    stats = pstats.Stats(profile)
    profiled = len(calls) - len(calls) // 2
    print(f"\n=== {label}: {len(one)} SQL statements per request, {cpu * 1000:.2f} ms CPU per request"
          f" ({runs} requests, client included), {stats.total_calls / profiled:,.0f} Python function calls per"
          " request (profiled half; deterministic, unlike CPU time on a shared machine)")
    for statement in one:
        print("   ", " ".join(statement.split())[:160])
    if show:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ.get("BENCH_PROFILE_LINES", "45")))
        print(out.getvalue())


async def _drive(app: Any, counter: StatementCounter, seed: dict[str, Any], show: bool) -> None:
    import httpx

    from triggers.verify import stripe_signature

    stages, deals, token = seed["stages"], seed["deals"], seed["token"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        api = {"Authorization": f"Bearer {token}"}

        def api_move(deal_id: int) -> Callable[[], Any]:
            async def call() -> None:
                r = await client.post(f"/api/v1/deals/{deal_id}/move", json={"stage_id": stages[1]}, headers=api)
                assert r.status_code == 200, r.text
            return call

        await _measure("API move", counter, [api_move(d) for d in deals[:MOVES]], show)
        csrf = await _login(client)

        def htmx_move(deal_id: int) -> Callable[[], Any]:
            async def call() -> None:
                r = await client.post(f"/deals/{deal_id}/move", headers={"HX-Request": "true", "X-CSRF-Token": csrf},
                                      data={"stage_id": stages[2], "from_stage_id": stages[0]})
                assert r.status_code == 200, r.text
            return call

        await _measure("htmx move", counter, [htmx_move(d) for d in deals[MOVES:MOVES * 2]], show)

        def intake(n: int) -> Callable[[], Any]:
            obj = {"id": f"cs_{n}", "object": "checkout.session", "metadata": {"invoice_id": str(10_000_000 + n)},
                   "amount_total": 100, "currency": "usd", "payment_status": "paid"}
            body = json.dumps({"id": f"evt_profile_{n}", "type": "checkout.session.completed",
                               "data": {"object": obj}}, separators=(",", ":")).encode()

            async def call() -> None:
                headers = {"Stripe-Signature": stripe_signature(SECRET, body, int(time.time())),
                           "Content-Type": "application/json"}
                r = await client.post("/hooks/payments/stripe", content=body, headers=headers)
                assert r.status_code == 200, r.text
            return call

        await _measure("Stripe intake", counter, [intake(n) for n in range(MOVES)], show)


def main() -> None:
    """Print statements, CPU per request and profiles for the API move, the htmx move and an intake."""
    import asyncio

    import kanban.web.deps

    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    show = os.environ.get("BENCH_PROFILE_SHOW", "1") == "1"
    kanban.web.deps.run_in_threadpool = _direct  # type: ignore[assignment]
    with _database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        rt, app, seed = _setup(url, tmp)
        asyncio.run(_drive(app, StatementCounter(rt.engine), seed, show))
        rt.engine.dispose()
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
