"""A sales floor of live boards: N signed-in SSE streams on one board across 2 web processes (Redis fan-out).

Run: python -m bench.live_floor     (BENCH_VIEWERS=500, BENCH_MOVES=30; needs PostgreSQL and redis-server)

1. Seeds one board and BENCH_VIEWERS reps (one stream each: a per-user stream cap must not interfere), logs each
   in through the real login form.
2. Times BENCH_MOVES API moves with nobody watching (the move's own latency, baseline).
3. Opens one SSE stream per rep on the board (`/events?pipeline_id=`), waits for each stream's `ready`, and reads
   the web processes' memory before and after (per idle stream).
4. Times BENCH_MOVES moves again while everyone watches; for each move, the delay until each stream receives the
   board notice naming the deal, counted from the moment the move request was sent (the notice is published after
   commit, often before the move's response arrives, so this includes the move itself). Prints p50/p99 of delivery
   (target p99 <= 1 s), move latency without and with viewers (must not grow with viewers), and memory per idle
   stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.harness import fresh_database, machine_report, seed_pipeline, seed_users, served_process
from bench.robots_support import private_redis
from kanban.bootstrap import bootstrap
from kanban.config import load_settings
from kanban.models import User
from kanban.security import hash_password

VIEWERS = int(os.environ.get("BENCH_VIEWERS", "500"))
MOVES = int(os.environ.get("BENCH_MOVES", "30"))
PASSWORD = "floor-pass-1"


def seed_reps(url: str, count: int) -> list[str]:
    """`count` reps sharing one password hash (hashing is not what this bench measures)."""
    rt = bootstrap(load_settings(DATABASE_URL=url, KANBAN_SECRET_KEY="bench"))
    digest = hash_password(PASSWORD)
    emails = [f"rep{n}@floor.example" for n in range(count)]
    with rt.sessions() as s, s.begin():
        s.add_all([User(email=e, name=f"Rep {n}", role="rep", password_hash=digest) for n, e in enumerate(emails)])
    rt.engine.dispose()
    return emails


async def login_all(base: str, emails: list[str]) -> list[str]:
    """One session cookie header per rep, logging in through the form (8 at a time)."""
    gate = asyncio.Semaphore(8)

    async def one(email: str) -> str:
        async with gate, httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=120) as client:
            page = await client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            response = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token,
                                                         "next": "/"})
            if response.status_code >= 400:
                raise RuntimeError(f"login failed for {email}: {response.status_code}")
            return "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    return list(await asyncio.gather(*(one(e) for e in emails)))


def server_rss_kb(root_pid: int) -> int:
    """Resident memory of a process and its children (the uvicorn workers), in KiB."""
    total, pids = 0, {root_pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root_pid:
            pids.add(int(stat.parent.name))
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Floor:
    """The open streams and, per deal id, when each stream saw it."""

    def __init__(self) -> None:
        self.ready = 0
        self.seen: dict[int, list[float]] = {}

    async def watch(self, client: httpx.AsyncClient, cookie: str, pipeline_id: int) -> None:
        async with client.stream("GET", f"/events?pipeline_id={pipeline_id}", headers={"Cookie": cookie}) as resp:
            event = ""
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "ready":
                    self.ready += 1
                elif line.startswith("data:") and event == "board":
                    at = time.monotonic()
                    for deal_id in json.loads(line[5:]).get("deal_ids", []):
                        self.seen.setdefault(deal_id, []).append(at)


async def timed_moves(client: httpx.AsyncClient, token: str, deal_ids: list[int], stage_id: int) -> dict[int, float]:
    """Move each deal (sequentially, paced); returns {deal id: monotonic time the request was sent} and, keyed by
    the negative deal id, each move's own latency in seconds."""
    done: dict[int, float] = {}
    for deal_id in deal_ids:
        start = time.monotonic()
        r = await client.post(f"/api/v1/deals/{deal_id}/move", json={"stage_id": stage_id},
                              headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        done[deal_id] = start
        done[-deal_id] = time.monotonic() - start
        await asyncio.sleep(0.2)
    return done


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(base: str, pid: int, token: str, pipeline_id: int, stages: list[int], ids: list[int],
              cookies: list[str]) -> None:
    limits = httpx.Limits(max_connections=len(cookies) + 20, max_keepalive_connections=len(cookies) + 20)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        quiet = await timed_moves(client, token, ids[:MOVES], stages[1])
        rss_before = server_rss_kb(pid)
        floor = Floor()
        tasks = [asyncio.create_task(floor.watch(client, c, pipeline_id)) for c in cookies]
        for _ in range(600):
            if floor.ready >= len(cookies):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        rss_after = server_rss_kb(pid)
        watched = await timed_moves(client, token, ids[MOVES:2 * MOVES], stages[1])
        await asyncio.sleep(2)
        for task in tasks:
            task.cancel()
    delays = [t - watched[d] for d in ids[MOVES:2 * MOVES] for t in floor.seen.get(d, [])]
    expected = MOVES * len(cookies)
    quiet_ms = [quiet[-d] * 1000 for d in ids[:MOVES]]
    watched_ms = [watched[-d] * 1000 for d in ids[MOVES:2 * MOVES]]
    print(f"streams ready: {floor.ready}/{len(cookies)}; notices delivered {len(delays)}/{expected}")
    if delays:
        print(f"move -> every board: p50 {statistics.median(delays) * 1000:.0f} ms"
              f"  p99 {pct(delays, 0.99) * 1000:.0f} ms  max {max(delays) * 1000:.0f} ms  (target p99 <= 1000 ms)")
    print(f"move latency, nobody watching : p50 {statistics.median(quiet_ms):.1f} ms"
          f"  p99 {pct(quiet_ms, 0.99):.1f} ms")
    print(f"move latency, {len(cookies)} watching   : p50 {statistics.median(watched_ms):.1f} ms"
          f"  p99 {pct(watched_ms, 0.99):.1f} ms")
    print(f"web processes' memory: {rss_before / 1024:.0f} MiB -> {rss_after / 1024:.0f} MiB;"
          f" per idle stream {(rss_after - rss_before) / max(1, floor.ready):.0f} KiB")


def main() -> None:
    """Seed, serve with Redis and 2 web processes, run the floor."""
    print(machine_report())
    with fresh_database() as url, private_redis() as redis_url:
        token, uid = seed_users(url)
        pid_, stages = seed_pipeline(url, "Floor", 2 * MOVES, uid, stages=2)
        emails = seed_reps(url, VIEWERS)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("update deals set stage_id=:s where pipeline_id=:p"), {"s": stages[0], "p": pid_})
            ids = [r[0] for r in conn.execute(text("select id from deals where pipeline_id=:p order by id"),
                                                {"p": pid_})]
        engine.dispose()
        env = {"REDIS_URL": redis_url, "KANBAN_EMBEDDED_WORKER": "0", "KANBAN_SSE_MAX_PER_USER": "10"}
        with served_process(url, workers=2, extra_env=env) as (base, server_pid):
            cookies = asyncio.run(login_all(base, emails))
            asyncio.run(run(base, server_pid, token, pid_, stages, ids, cookies))
    print(machine_report())


if __name__ == "__main__":
    main()
