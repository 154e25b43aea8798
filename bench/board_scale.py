"""Board page server time with 1,000 vs 100,000 deals in the pipeline (PostgreSQL), as a ratio.

Run: python -m bench.board_scale
"""

from __future__ import annotations

import os
import statistics
import time

import httpx

from bench.harness import fresh_database, seed_pipeline, seed_users, served

REPEAT = int(os.environ.get("BENCH_REPEAT", "40"))


def board_time(client: httpx.Client, base: str, pipeline_id: int, query: str = "") -> tuple[float, float]:
    """Median and p90 wall time (ms) of GET /board for a pipeline (plus filters), after warm-up."""
    url = f"{base}/board?pipeline_id={pipeline_id}{query}"
    for _ in range(5):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main() -> None:
    """Seed two pipelines, time their boards, print the ratio."""
    with fresh_database() as url:
        _, uid = seed_users(url)
        small, _ = seed_pipeline(url, "Small", 1_000, uid)
        large, _ = seed_pipeline(url, "Large", 100_000, uid)
        with served(url, workers=1) as base, httpx.Client(timeout=30) as client:
            login = client.get(base + "/login")
            csrf = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            client.post(
                base + "/login",
                data={"email": "bench@example.com", "password": "benchpass1", "csrf_token": csrf, "next": "/"},
            )
            small_t = board_time(client, base, small)
            large_t = board_time(client, base, large)
            # Text search (filtered boards keep the GROUP BY): one title matches, and a quarter of them do.
            rare_t = board_time(client, base, large, "&q=Deal+51234")
            common_t = board_time(client, base, large, "&q=acme")
    print(f"board, 1,000 deals   : median {small_t[0]:.1f} ms  p90 {small_t[1]:.1f} ms")
    print(f"board, 100,000 deals : median {large_t[0]:.1f} ms  p90 {large_t[1]:.1f} ms")
    print(f"ratio 100k/1k        : {large_t[0] / small_t[0]:.2f}  (target <= 1.5)")
    print(f"100k, q matching 1   : median {rare_t[0]:.1f} ms  p90 {rare_t[1]:.1f} ms")
    print(f"100k, q matching 25% : median {common_t[0]:.1f} ms  p90 {common_t[1]:.1f} ms")


if __name__ == "__main__":
    main()
