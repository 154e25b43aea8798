"""Live updates: notices published after commit (merged, dropped on rollback), Redis fan-out, the SSE stream."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from kanban import live
from kanban.events import Actor
from kanban.live import LiveHub
from kanban.models import Notification, User
from kanban.records import mark_read
from kanban.services.deals import create_deal, move_deal, update_deal
from tests.browser.conftest import live_runtime, live_server  # noqa: F401 - fixtures
from tests.conftest import REDIS_TEST_URL, make_user, service_missing


async def _drain(sub, wait=0.3):
    out = []
    try:
        while True:
            out.append(await asyncio.wait_for(sub.get(), wait))
    except TimeoutError:
        return out


def _collect(runtime, action, **watch):
    """Run `action` in a worker thread while subscribed; return the notices received."""
    hub = runtime.extras["live"]

    async def main():
        sub = hub.subscribe(**watch)
        try:
            await asyncio.to_thread(action)
            return await _drain(sub)
        finally:
            hub.unsubscribe(sub)

    return asyncio.run(main())


def test_move_publishes_board_and_deal_notices_after_commit(runtime, pipeline, rep):
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Live", pipeline_id=pipeline.id, actor=Actor.user(rep.id))
    new, won = pipeline.stages[0].id, pipeline.stages[4].id

    def move():
        with runtime.sessions() as s, s.begin():
            move_deal(s, deal.id, won, actor=Actor.user(rep.id))

    notices = _collect(runtime, move, pipeline_id=pipeline.id)
    assert notices == [{"type": "board", "pipeline_id": pipeline.id, "stage_ids": sorted([new, won]),
                        "deal_ids": [deal.id]}]

    def edit():
        with runtime.sessions() as s, s.begin():
            update_deal(s, deal.id, {"title": "Live 2"}, actor=Actor.user(rep.id))

    assert _collect(runtime, edit, deal_id=deal.id) == [{"type": "deal", "deal_id": deal.id}]


def test_rollback_publishes_nothing_and_bulk_changes_merge(runtime, pipeline, rep):
    def rolled_back():
        with runtime.sessions() as s:
            with s.begin():
                create_deal(s, title="Ghost", pipeline_id=pipeline.id, actor=Actor.user(rep.id))
                s.rollback()
            with s.begin():  # the next transaction of the same session starts clean
                pass

    assert _collect(runtime, rolled_back, pipeline_id=pipeline.id) == []

    def bulk():
        with runtime.sessions() as s, s.begin():
            for i in range(5):
                create_deal(s, title=f"Bulk {i}", pipeline_id=pipeline.id, stage_id=pipeline.stages[i % 2].id,
                            actor=Actor.user(rep.id))

    notices = _collect(runtime, bulk, pipeline_id=pipeline.id)
    assert len(notices) == 1
    assert notices[0]["stage_ids"] == sorted([pipeline.stages[0].id, pipeline.stages[1].id])
    assert len(notices[0]["deal_ids"]) == 5


def test_publish_deal_changed_for_plugins(runtime, pipeline, rep):
    with runtime.sessions() as s, s.begin():
        deal = create_deal(s, title="Robot target", pipeline_id=pipeline.id, actor=Actor.user(rep.id))

    def robot_finished():
        with runtime.sessions() as s, s.begin():
            live.publish_deal_changed(s, deal.id)
            live.publish_deal_changed(s, deal.id)

    assert _collect(runtime, robot_finished, deal_id=deal.id) == [{"type": "deal", "deal_id": deal.id}]
    assert _collect(runtime, robot_finished, pipeline_id=pipeline.id) == []  # other boards are not told


async def _until_listening(client, timeout: float = 10.0) -> None:
    """Wait until the hub's listener thread has subscribed to the channel (a fixed sleep races on a busy CI)."""
    from kanban.live import CHANNEL

    deadline = asyncio.get_running_loop().time() + timeout
    while dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < 1:
        assert asyncio.get_running_loop().time() < deadline, "the live listener never subscribed"
        await asyncio.sleep(0.05)


@pytest.mark.redis
def test_redis_fans_out_between_processes():
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL).ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    web, worker = LiveHub(REDIS_TEST_URL), LiveHub(REDIS_TEST_URL)
    web.start()

    async def main():
        sub = web.subscribe(deal_id=7)
        try:
            await _until_listening(redis.Redis.from_url(REDIS_TEST_URL))
            await asyncio.to_thread(worker.publish, {"type": "deal", "deal_id": 7})
            await asyncio.to_thread(web.publish, {"type": "deal", "deal_id": 7})
            return await _drain(sub, wait=1.5)
        finally:
            web.unsubscribe(sub)

    try:
        # One from the other process (through Redis), one local; the local one is not delivered twice.
        assert asyncio.run(main()) == [{"type": "deal", "deal_id": 7}, {"type": "deal", "deal_id": 7}]
    finally:
        web.stop()


def test_sse_stream_delivers_board_notices(live_server, live_runtime):  # noqa: F811
    from kanban.services.pipelines import create_pipeline

    user = make_user(live_runtime, "sse@example.com", "rep", "Sse Rep")
    with live_runtime.sessions() as s, s.begin():
        pipeline = create_pipeline(s, "P", [{"name": "A"}, {"name": "B"}])
        stages = [st.id for st in pipeline.stages]
        deal = create_deal(s, title="Streamed", pipeline_id=pipeline.id, actor=Actor.user(user.id))
    with httpx.Client(base_url=live_server, timeout=10) as http:
        token = http.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"email": "sse@example.com", "password": "password123", "csrf_token": token})
        with http.stream("GET", f"/events?pipeline_id={pipeline.id}") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == "event: ready"
            with live_runtime.sessions() as s, s.begin():
                move_deal(s, deal.id, stages[1], actor=Actor.user(user.id))
            event = data = None
            for line in lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "board":
                    data = json.loads(line[6:])
                    break
    assert data == {"type": "board", "pipeline_id": pipeline.id, "stage_ids": stages, "deal_ids": [deal.id]}


def test_new_notifications_and_marking_them_read_tell_only_their_user(runtime, rep, admin):
    def notify():
        with runtime.sessions() as s, s.begin():
            s.add_all([Notification(user_id=rep.id, text="one"), Notification(user_id=rep.id, text="two")])

    assert _collect(runtime, notify, user_id=rep.id) == [{"type": "notifications", "user_ids": [rep.id]}]
    assert _collect(runtime, notify, user_id=admin.id) == []

    marked = []

    def read_all():
        with runtime.sessions() as s, s.begin():
            marked.append(mark_read(s, s.get(User, rep.id)))

    assert _collect(runtime, read_all, user_id=rep.id) == [{"type": "notifications", "user_ids": [rep.id]}]
    assert _collect(runtime, read_all, user_id=rep.id) == []  # nothing left to mark: nothing changed
    assert marked == [4, 0]


def test_every_page_stream_carries_the_users_notifications(live_server, live_runtime):  # noqa: F811
    user = make_user(live_runtime, "bell@example.com", "rep", "Bell Rep")
    other = make_user(live_runtime, "quiet@example.com", "rep", "Quiet Rep")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        token = http.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"email": "bell@example.com", "password": "password123", "csrf_token": token})
        with http.stream("GET", "/events") as stream:  # a page with neither board nor deal: the bell only
            lines = stream.iter_lines()
            assert next(lines) == "event: ready"
            with live_runtime.sessions() as s, s.begin():
                s.add(Notification(user_id=other.id, text="not for you"))
            with live_runtime.sessions() as s, s.begin():
                s.add(Notification(user_id=user.id, text="Robot says hi"))
            events = []
            for line in lines:
                if line.startswith("event: "):
                    events.append(line[7:])
                elif line.startswith("data: ") and events and events[-1] == "notifications":
                    data = json.loads(line[6:])
                    break
    assert events == ["notifications"] and data == {"type": "notifications", "user_ids": [user.id]}


def test_sse_requires_login(live_server):  # noqa: F811
    with httpx.Client(base_url=live_server, timeout=10) as http:
        response = http.get("/events?pipeline_id=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.fixture
def frozen_redis():
    """A TCP server that accepts connections and never answers (a frozen Redis)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0", accepted
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


def test_a_frozen_redis_does_not_hold_up_publishers(frozen_redis):
    import threading

    url, accepted = frozen_redis
    hub = LiveHub(url)
    done = threading.Event()

    async def main():
        sub = hub.subscribe(deal_id=3)

        def publish_many():
            for _ in range(20):  # with a 5 s socket timeout per publish, this took 100 s before
                hub.publish({"type": "deal", "deal_id": 3})
            done.set()

        worker = threading.Thread(target=publish_many, daemon=True)
        worker.start()
        await asyncio.to_thread(done.wait, 3)
        got = await _drain(sub, wait=0.2)
        hub.unsubscribe(sub)
        return got

    got = asyncio.run(main())
    assert done.is_set(), "publish blocked on the frozen Redis"
    assert len(got) == 20  # local subscribers still get every notice at once
    assert accepted  # the Redis fan-out was attempted, off the publisher's path


def test_sse_streams_are_capped_per_user(live_server, live_runtime):  # noqa: F811
    make_user(live_runtime, "tabs@example.com", "rep", "Tab Rep")
    limit = live_runtime.settings.max_streams_per_user
    with httpx.Client(base_url=live_server, timeout=10) as http:
        token = http.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"email": "tabs@example.com", "password": "password123", "csrf_token": token})
        streams = [http.stream("GET", "/events") for _ in range(limit)]
        opened = [s.__enter__() for s in streams]
        try:
            assert [r.status_code for r in opened] == [200] * limit
            refused = http.get("/events")
            assert refused.status_code == 429 and refused.headers["Retry-After"]
        finally:
            for s in streams:
                s.__exit__(None, None, None)
